"""The aiohttp server: every channel (/ws, socket.io, Rasa REST) on one engine, plus health, readiness, metrics.

    app = create_app(bot, settings)      # a StoreBot from bot.app.build_bot
    web.run_app(app, host=..., port=...)
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

from aiohttp import web

from bot import metrics
from bot.analytics.admin import AdminPages
from bot.analytics.feedback import FeedbackIntake
from bot.app import StoreBot
from bot.channels.agent import AgentConsole
from bot.channels.behaviour import BehaviourIntake
from bot.channels.connections import ConnectionSlots
from bot.channels.fanout import Fanout, socketio_manager, stop_socketio_manager
from bot.channels.guard import ChannelGuard, error_response
from bot.channels.rest import RestChannel
from bot.channels.sessions import SessionIds
from bot.channels.socketio import SocketIOChannel
from bot.channels.telegram import TelegramChannel
from bot.channels.telegram import check_settings as check_telegram
from bot.channels.whatsapp import WhatsAppChannel
from bot.channels.whatsapp import check_settings as check_whatsapp
from bot.channels.websocket import WebsocketChannel
from bot.config import Settings
from bot.privacy import logfile
from bot.privacy.retention import retention_job
from bot.web import pages, return_labels

log = logging.getLogger("shopbot.server")
BOT = web.AppKey("bot", StoreBot)
WEBSOCKETS = web.AppKey("websockets", WebsocketChannel)
MESSENGERS = web.AppKey("messengers", list)
SOCKETIO = web.AppKey("socketio", SocketIOChannel)


@dataclass
class Shutdown:
    """How long a stopping server waits for its turns, and whether they all finished (None: not stopped yet)."""

    timeout_s: float
    drained: bool | None = None


SHUTDOWN = web.AppKey("shutdown", Shutdown)


@web.middleware
async def no_stack_traces(request: web.Request, handler) -> web.StreamResponse:
    """Any unhandled error becomes a JSON `error` with a code; the trace goes to the log only."""
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:  # aiohttp's own is plain text
        return error_response("too_large", f"the body is over the {request.client_max_size} bytes this server "
                                           "accepts", 413)
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


def check_settings(settings: Settings) -> None:
    """Refuse (ConfigError) settings that would accept forged messages: a messenger token without its secret."""
    check_telegram(settings.server.telegram)
    check_whatsapp(settings.server.whatsapp)


def create_app(bot: StoreBot, settings: Settings) -> web.Application:
    """All routes over one engine; `/ready` answers once the app has started (models are loaded before)."""
    app = web.Application(middlewares=[no_stack_traces, cors(settings)],
                          client_max_size=max(1024 * 64, settings.server.max_message_chars * 8))
    check_settings(settings)
    guard = ChannelGuard(settings.server, settings.dialogue.redis_url)  # rate limits in Redis when it is set
    app.on_cleanup.append(lambda _: guard.close())
    sessions = SessionIds.load(settings.server.session_key, settings.data_dir)   # /ws and socket.io session ids
    slots = ConnectionSlots(settings.server.max_connections, settings.server.max_connections_per_ip)  # both channels
    behaviour = BehaviourIntake(bot.engine, guard, settings.privacy, settings.nudges, bot.knowledge.kb)
    feedback = FeedbackIntake(bot.engine, guard)   # the thumbs up/down at a chat's end (CSAT)
    websockets = WebsocketChannel(bot.engine, guard, sessions, slots, behaviour, feedback)
    rest = RestChannel(bot.engine, guard, behaviour, feedback)
    app[BOT] = bot
    app[WEBSOCKETS] = websockets
    app.router.add_get("/ws", websockets.handle)
    socket_io = SocketIOChannel(bot.engine, guard, client_manager=socketio_manager(settings.dialogue.redis_url),
                                sessions=sessions, slots=slots)
    socket_io.attach(app)
    app.router.add_post("/webhooks/rest/webhook", rest.handle)
    app.router.add_post("/webhooks/rest/event", rest.handle_event)   # storefront behaviour events
    app.router.add_post("/webhooks/rest/feedback", rest.handle_feedback)   # a chat's rating
    app.router.add_get("/widget/config", behaviour.widget_config)
    telegram = TelegramChannel(bot.engine, guard, settings.server)
    whatsapp = WhatsAppChannel(bot.engine, guard, settings.server)
    app[MESSENGERS] = [telegram, whatsapp]
    app.router.add_post("/webhooks/telegram", telegram.handle)
    app.router.add_get("/webhooks/whatsapp", whatsapp.verify)
    app.router.add_post("/webhooks/whatsapp", whatsapp.handle)
    fanout = Fanout({"web": websockets.deliver, "socketio": socket_io.deliver, "telegram": telegram.deliver,
                     "whatsapp": whatsapp.deliver}, settings.dialogue.redis_url)  # /ws across replicas via Redis
    app.cleanup_ctx.append(fanout.running)
    app.on_cleanup.append(lambda _: stop_socketio_manager(socket_io.sio.manager))
    AgentConsole(bot.engine, settings.server.agent_token, fanout).add_routes(app)
    pages.add_routes(app, bot.knowledge.kb, settings.server.auth_token)
    AdminPages(bot.engine, bot.knowledge.index, settings.server.admin_token).add_routes(app)  # owner analytics
    return_labels.add_routes(app, bot.knowledge.kb, settings.server.public_url)  # GET /returns/labels/...pdf
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", prometheus)
    if settings.logging.file is not None:
        app.cleanup_ctx.append(logfile.attached(settings.logging.file))
    app.cleanup_ctx.append(retention_job(bot.engine, settings.privacy, settings.logging.file))
    app[SHUTDOWN] = Shutdown(settings.server.shutdown_timeout_s)
    app[SOCKETIO] = socket_io
    app.on_shutdown.append(_drain_then_close_sockets)
    app.on_cleanup.append(_close_engine)
    return app


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    """Models loaded, and the database and Redis reachable (503 naming the part that is down)."""
    from bot.dialogue.health import state_health

    bot = request.app[BOT]
    state = await state_health(bot.engine.store, bot.engine.locks)
    up = "down" not in state.values()
    return web.json_response({"status": "ready" if up else "unavailable", "store": bot.knowledge.kb.name,
                              "nlu": bot.parser is not None, "responder": bot.responder.mode, **state},
                             status=200 if up else 503)


async def prometheus(request: web.Request) -> web.Response:
    return web.Response(body=metrics.exposition(), content_type="text/plain", charset="utf-8")


def run(app: web.Application, host: str, port: int, grace_s: float = 3.0) -> bool:
    """Serve until SIGTERM (or SIGINT), then stop gracefully: stop listening, refuse new messages on the open
    sockets (`unavailable`, "send that again"), let the turns in flight finish, be saved and delivered (within
    `server.shutdown_timeout_s`), close the sockets (1001 on /ws) and clean up; `grace_s` is what aiohttp then
    gives a handler still running before and after cancelling it. False when turns outlived the timeout."""
    return asyncio.run(_serve(app, host, port, grace_s))


async def _serve(app: web.Application, host: str, port: int, grace_s: float) -> bool:
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=grace_s)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, stop.set)
        await stop.wait()
        log.info("stopping: %d turns in flight", app[BOT].engine.turns_in_flight)
        await site.stop()   # no new connections; the open ones are still read, so a late message gets its refusal
        await _drain(app)
    finally:
        await runner.cleanup()   # on_shutdown closes the sockets, then the handlers end and on_cleanup runs
    return app[SHUTDOWN].drained is not False


async def _drain(app: web.Application) -> None:
    """Refuse new turns and wait for those in flight (once: `run` drains before aiohttp's shutdown starts)."""
    shutdown, engine = app[SHUTDOWN], app[BOT].engine
    if shutdown.drained is None:
        shutdown.drained = await engine.drain(shutdown.timeout_s)
        if not shutdown.drained:
            log.warning("%d turns still running after %.0f s; stopping them", engine.turns_in_flight,
                        shutdown.timeout_s)


async def _drain_then_close_sockets(app: web.Application) -> None:
    """aiohttp's shutdown (after it stopped listening): the turns in flight finish first, then the sockets close."""
    await _drain(app)
    sockets = list(app[WEBSOCKETS].sockets)
    await asyncio.gather(*(ws.close(code=1001, message=b"server shutting down") for ws in sockets),
                         return_exceptions=True)
    await app[SOCKETIO].close()  # every socket.io client (without engine.io's wait on sockets already gone)


async def _close_engine(app: web.Application) -> None:
    for messenger in app[MESSENGERS]:
        await messenger.close()  # finishes the turns in flight first
    await app[BOT].engine.close()
