"""`shopbot serve` from the first second: the port answers while the store's models load (`bot.startup`).

Until the bot is built, `/health` says the process is alive (200), `/ready` says what is still loading (503),
`/metrics` answers, the chat channels refuse turns with a `starting` error naming what is loading (a `/ws` socket
stays open and is served by the websocket channel once the bot is ready; REST and the messengers get a 503 with
`Retry-After`), and pages say the store is starting. Once ready, every request goes to the app of
`bot.server.create_app`, exactly as if it had been served from the start.

    startup = Startup(settings, train=True); startup.start()
    run_starting(startup, settings, host, port, grace_s, on_ready=print_urls)
"""

from __future__ import annotations

import asyncio
import html
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bot import metrics
from bot.channels.guard import ChannelGuard, error_response
from bot.channels.websocket import send_frame
from bot.config import Settings
from bot.startup import Startup

log = logging.getLogger("shopbot.server")
RETRY_AFTER_S = 5
CHAT_PATHS = ("/webhooks/",)   # REST, storefront events, ratings, Telegram, WhatsApp: a 503 `starting` until ready


@dataclass
class Serving:
    """The outer app's state: the startup, the real app once built, the sockets opened before it."""

    startup: Startup
    settings: Settings
    guard: ChannelGuard
    inner: web.Application | None = None
    waiting: set[web.WebSocketResponse] = field(default_factory=set)
    stopping: bool = False


SERVING = web.AppKey("serving", Serving)


def urls_banner(settings: Settings) -> str:
    """Where the storefront, the agent console, the owner's analytics and the metrics are, and how to turn the
    consoles on (what `shopbot serve` prints once ready)."""
    options = settings.server
    host = "127.0.0.1" if options.host in ("0.0.0.0", "::", "") else options.host
    base = (options.public_url or f"http://{host}:{options.port}").rstrip("/")
    agent = ("on (sign in with server.agent_token)" if options.agent_token else
             "off: start with SHOPBOT_AGENT_TOKEN=<a secret, e.g. `openssl rand -hex 16`> (make run or shopbot serve), "
             "then sign in with it")
    admin = ("on (server.admin_token)" if getattr(options, "admin_token", "") else
             "off: SHOPBOT_ADMIN_TOKEN=<at least 16 characters> turns it on")
    return "\n".join([f"  Storefront and chat widget  {base}/",
                      f"  Agent console               {base}/agent   {agent}",
                      f"  Owner analytics             {base}/admin   {admin}",
                      f"  Metrics (Prometheus)        {base}/metrics",
                      f"  Health, readiness           {base}/health, {base}/ready",
                      f"  Chat API                    {base.replace('http', 'ws', 1)}/ws (websocket), "
                      f"POST {base}/webhooks/rest/webhook (REST)"])


def starting_detail(startup: Startup) -> str:
    loading = startup.loading()
    return ("The assistant is starting" + (f" (loading: {'; '.join(loading)})" if loading else "")
            + ". Please send that again in a moment.")


def starting_error(startup: Startup, status: int = 503) -> web.Response:
    """The JSON refusal of a chat request before the bot is ready: `starting`, what is loading, Retry-After."""
    response = error_response("starting", starting_detail(startup), status)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


@web.middleware
async def no_stack_traces(request: web.Request, handler: Any) -> web.StreamResponse:
    """An unhandled error while starting is a JSON `internal` error; the trace goes to the log only (what
    `bot.server` does once ready: that module, and every channel with it, is imported only then)."""
    try:
        return await handler(request)
    except (web.HTTPException, asyncio.CancelledError):
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response("internal", "something went wrong on our side", 500)


def starting_app(startup: Startup, settings: Settings) -> web.Application:
    """The app the port serves from the start (see the module's docstring)."""
    app = web.Application(middlewares=[no_stack_traces],
                          client_max_size=max(1024 * 64, settings.server.max_message_chars * 8))
    app[SERVING] = Serving(startup, settings, ChannelGuard(settings.server, None))
    app.router.add_route("*", "/{tail:.*}", dispatch)
    app.on_shutdown.append(_shutdown)
    app.on_cleanup.append(_cleanup)
    return app


async def dispatch(request: web.Request) -> web.StreamResponse:
    """Every request: to the real app once it is built, else the answers of a starting server."""
    serving = request.app[SERVING]
    if serving.inner is not None:
        # the outer route's match ({tail}) is cached on the request (aiohttp's reify): drop it so the inner app's
        # routes ("/agent/api/conversations/{id}") are what its handlers read
        request._cache.pop("match_info", None)
        return await serving.inner._handle(request)  # what aiohttp's own runner calls for each request
    path = request.path
    if path == "/health":
        return web.json_response({"status": "ok", "ready": False, "loading": serving.startup.loading()})
    if path == "/ready":
        report = serving.startup.report()
        return web.json_response({**report, "status": "unavailable" if report["status"] == "failed" else "starting"},
                                 status=503, headers={"Retry-After": str(RETRY_AFTER_S)})
    if path == "/metrics":
        return web.Response(body=metrics.exposition(), content_type="text/plain", charset="utf-8")
    if path == "/ws":
        return await _waiting_socket(request, serving)
    if path.startswith(CHAT_PATHS) or request.method != "GET" or "text/html" not in request.headers.get("Accept", ""):
        return starting_error(serving.startup)
    return _starting_page(serving)


def _starting_page(serving: Serving) -> web.Response:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in serving.startup.loading())
    body = (f"<!doctype html><meta charset=utf-8><meta http-equiv=refresh content={RETRY_AFTER_S}>"
            f"<title>Starting</title><h1>The store's assistant is starting</h1><p>Still loading:</p><ul>{items}</ul>"
            f"<p>This page reloads every {RETRY_AFTER_S} seconds.</p>")
    return web.Response(text=body, content_type="text/html", status=503, headers={"Retry-After": str(RETRY_AFTER_S)})


async def _waiting_socket(request: web.Request, serving: Serving) -> web.StreamResponse:
    """A `/ws` socket opened before the bot is ready: its messages get a `starting` error (the socket stays open);
    once ready, the websocket channel serves it from there (its `session` frame first)."""
    refusal = serving.guard.check_request(request)
    if refusal is not None:
        return error_response(refusal.code, refusal.detail, refusal.status)
    if len(serving.waiting) >= serving.settings.server.max_connections:
        return error_response("too_many_connections", "the server is starting and holds as many sockets as it "
                                                      "can; try again in a moment", 503)
    ws = web.WebSocketResponse(heartbeat=serving.settings.server.heartbeat_s, max_msg_size=1024 * 1024)
    await ws.prepare(request)
    serving.waiting.add(ws)
    try:
        await send_frame(ws, {"type": "starting", "detail": starting_detail(serving.startup),
                              "loading": serving.startup.loading()})
        while serving.inner is None and not serving.stopping:
            try:
                frame = await ws.receive(timeout=0.25)   # a frame not read yet stays queued for the channel
            except asyncio.TimeoutError:
                continue
            if frame.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return ws
            await _refuse_frame(ws, frame, serving.startup)
    finally:
        serving.waiting.discard(ws)
    if serving.inner is not None and not ws.closed:
        from bot.server import WEBSOCKETS

        await serving.inner[WEBSOCKETS].adopt(ws, request)
    return ws


async def _refuse_frame(ws: web.WebSocketResponse, frame: Any, startup: Startup) -> None:
    """A ping gets its pong; anything else the `starting` error (with the frame's `message_id`, if any)."""
    import json

    body: Any = None
    if frame.type == WSMsgType.TEXT:
        try:
            body = json.loads(frame.data)
        except ValueError:
            body = None
    if isinstance(body, dict) and body.get("type") == "ping":
        await send_frame(ws, {"type": "pong"})
        return
    body = body if isinstance(body, dict) else {}
    extra: dict[str, Any] = {}
    if isinstance(body.get("message_id"), str):
        extra["message_id"] = body["message_id"][:100]
    if body.get("type") == "event":      # a storefront event, as the channel marks its refusals (not shown)
        extra["event"] = str(body.get("name") or "event")[:40]
    elif body.get("type") == "feedback":
        extra["feedback"] = True
    metrics.ERRORS.labels("web", "starting").inc()
    await send_frame(ws, {"type": "error", "code": "starting", "detail": starting_detail(startup),
                          "loading": startup.loading(), **extra})


async def became_ready(app: web.Application, build: Callable[[Any, Settings], web.Application]) -> None:
    """The bot is built: make its app (`build(bot, settings)`), start it, and send every request to it."""
    serving = app[SERVING]
    inner = build(serving.startup.bot, serving.settings)
    inner.freeze()
    await inner.startup()
    serving.inner = inner


async def follow_startup(app: web.Application, on_ready: Callable[[], None] | None = None) -> bool:
    """Start the app's `Startup` in the background; once the bot is built, serve it (`bot.server.create_app`)
    and call `on_ready`: True. False when a step failed (`startup.failure` says which)."""
    from bot.server import create_app

    serving = app[SERVING]
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def finished() -> None:
        try:
            loop.call_soon_threadsafe(done.set)
        except RuntimeError:  # the loop is closed: the server stopped first
            pass

    serving.startup.on_done(finished)
    serving.startup.start()
    await done.wait()
    if serving.startup.failure:
        log.error("could not start: %s", serving.startup.failure)
        return False
    await became_ready(app, create_app)
    if on_ready is not None:
        on_ready()
    return True


async def _shutdown(app: web.Application) -> None:
    serving = app[SERVING]
    serving.stopping = True
    serving.startup.stop()
    await asyncio.gather(*(ws.close(code=1001, message=b"server shutting down") for ws in list(serving.waiting)),
                         return_exceptions=True)
    if serving.inner is not None:
        await serving.inner.shutdown()


async def _cleanup(app: web.Application) -> None:
    serving = app[SERVING]
    if serving.inner is not None:
        await serving.inner.cleanup()


def run_starting(startup: Startup, settings: Settings, host: str, port: int, grace_s: float = 3.0,
                 on_ready: Callable[[], None] | None = None) -> bool:
    """Listen at once, start the bot in the background, serve it when ready, stop gracefully on SIGTERM/SIGINT
    (as `bot.server.run`). False when turns outlived the shutdown timeout or the start failed."""
    return asyncio.run(_serve(startup, settings, host, port, grace_s, on_ready))


async def _serve(startup: Startup, settings: Settings, host: str, port: int, grace_s: float,
                 on_ready: Callable[[], None] | None) -> bool:
    app = starting_app(startup, settings)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=grace_s)
    await runner.setup()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    started_ok: list[bool] = []

    def followed(task: asyncio.Task) -> None:
        if task.cancelled():
            return
        if task.exception() is not None:
            log.error("could not serve the started bot", exc_info=task.exception())
            startup.failure = startup.failure or f"could not serve the bot: {task.exception()}"
        started_ok.append(not task.exception() and task.result())
        if not started_ok[-1]:
            stop.set()

    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, stop.set)
        follow = asyncio.create_task(follow_startup(app, on_ready))
        follow.add_done_callback(followed)
        await stop.wait()
        follow.cancel()
        inner = app[SERVING].inner
        if inner is not None:
            log.info("stopping: %d turns in flight", startup.bot.engine.turns_in_flight)
        await site.stop()   # no new connections; the open ones are still read, so a late message gets its refusal
        if inner is not None:
            from bot.server import _drain

            await _drain(inner)
    finally:
        await runner.cleanup()
    inner = app[SERVING].inner
    if inner is None:
        return startup.failure is None
    from bot.server import SHUTDOWN

    return startup.failure is None and inner[SHUTDOWN].drained is not False
