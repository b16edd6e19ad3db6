"""The aiohttp server: every channel (/ws, socket.io, Rasa REST) on one engine, plus health, readiness, metrics.

    app = create_app(bot, settings)      # a StoreBot from bot.app.build_bot
    web.run_app(app, host=..., port=...)
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot import metrics
from bot.app import StoreBot
from bot.channels.agent import AgentConsole
from bot.channels.guard import ChannelGuard, error_response
from bot.channels.rest import RestChannel
from bot.channels.socketio import SocketIOChannel
from bot.channels.telegram import TelegramChannel
from bot.channels.whatsapp import WhatsAppChannel
from bot.channels.websocket import WebsocketChannel
from bot.config import Settings
from bot.web import pages

log = logging.getLogger("shopbot.server")
BOT = web.AppKey("bot", StoreBot)
WEBSOCKETS = web.AppKey("websockets", WebsocketChannel)
MESSENGERS = web.AppKey("messengers", list)


@web.middleware
async def no_stack_traces(request: web.Request, handler) -> web.StreamResponse:
    """Any unhandled error becomes a JSON `error` with a code; the trace goes to the log only."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response("internal", "something went wrong on our side", 500)


def cors(settings: Settings):
    """CORS for the allow-listed browser origins (websocket origins are checked by the channel guard)."""
    allowed = set(settings.server.cors_origins)

    @web.middleware
    async def middleware(request: web.Request, handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS" and origin:
            response: web.StreamResponse = web.Response(status=204)
        else:
            response = await handler(request)
        if origin and (origin in allowed or "*" in allowed) and not response.prepared:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
            response.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization, X-Shopbot-Token"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        return response

    return middleware


def create_app(bot: StoreBot, settings: Settings) -> web.Application:
    """All routes over one engine; `/ready` answers once the app has started (models are loaded before)."""
    app = web.Application(middlewares=[no_stack_traces, cors(settings)],
                          client_max_size=max(1024 * 64, settings.server.max_message_chars * 8))
    guard = ChannelGuard(settings.server)
    websockets = WebsocketChannel(bot.engine, guard)
    rest = RestChannel(bot.engine, guard)
    app[BOT] = bot
    app[WEBSOCKETS] = websockets
    app.router.add_get("/ws", websockets.handle)
    socket_io = SocketIOChannel(bot.engine, guard)
    socket_io.attach(app)
    app.router.add_post("/webhooks/rest/webhook", rest.handle)
    telegram = TelegramChannel(bot.engine, guard, settings.server)
    whatsapp = WhatsAppChannel(bot.engine, guard, settings.server)
    app[MESSENGERS] = [telegram, whatsapp]
    app.router.add_post("/webhooks/telegram", telegram.handle)
    app.router.add_get("/webhooks/whatsapp", whatsapp.verify)
    app.router.add_post("/webhooks/whatsapp", whatsapp.handle)
    AgentConsole(bot.engine, settings.server.agent_token,
                 {"web": websockets.deliver, "socketio": socket_io.deliver, "telegram": telegram.deliver,
                  "whatsapp": whatsapp.deliver}).add_routes(app)
    pages.add_routes(app, bot.knowledge.kb, settings.server.auth_token)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", prometheus)
    app.on_shutdown.append(_close_websockets)
    app.on_cleanup.append(_close_engine)
    return app


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    bot = request.app[BOT]
    return web.json_response({"status": "ready", "store": bot.knowledge.kb.name, "nlu": bot.parser is not None,
                              "responder": bot.responder.mode})


async def prometheus(request: web.Request) -> web.Response:
    return web.Response(body=metrics.exposition(), content_type="text/plain", charset="utf-8")


async def _close_websockets(app: web.Application) -> None:
    for ws in list(app[WEBSOCKETS].sockets):
        await ws.close(code=1001, message=b"server shutting down")


async def _close_engine(app: web.Application) -> None:
    for messenger in app[MESSENGERS]:
        await messenger.close()  # finishes the turns in flight first
    await app[BOT].engine.close()
