"""Events pushed to a shopper outside their own turn (an agent's reply, the bot taking the chat back), delivered
wherever the shopper is connected.

One process: each channel's own `deliver`. Several processes (`dialogue.redis_url` set): `/ws` sockets live in one
process each, so a delivery is published on a Redis pub/sub channel that every replica subscribes to at startup,
and each replica hands it to the sockets it holds (the publisher delivers to its own sockets at once and ignores its
own message, so every socket gets it exactly once). socket.io needs no help here: its Redis client manager already
carries an emit to a room to every replica. Messenger channels (Telegram, WhatsApp) send through the platform's
API, so the replica that took the agent's request sends them, once.

    fanout = Fanout({"web": websockets.deliver, "telegram": telegram.deliver}, redis_url, fanned={"web"})
    app.cleanup_ctx.append(fanout.running)      # subscribes before the server accepts anyone
    await fanout.deliver("web:5f0c...", Outbound("message", "Hi, Sam here."), {})
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from bot.messages import Outbound

log = logging.getLogger("shopbot.fanout")
Deliver = Callable[[str, Outbound, dict[str, Any]], Awaitable[None]]
FANNED_CHANNELS = frozenset({"web"})   # channels whose connections are held by one process each
SUBSCRIBE_WAIT_S = 5.0
RETRY_MAX_S = 10.0
PING_EVERY_S = 10.0    # an idle subscription pings Redis; three silent rounds mean a dead connection: resubscribe
PUBLISH_TIMEOUT_S = 2.0
_OUTBOUND_FIELDS = {f.name for f in dataclasses.fields(Outbound)}


def redis_channel(url: str, name: str) -> str:
    """A pub/sub channel name per Redis database (pub/sub ignores the database number, so two deployments on one
    Redis server with different databases would otherwise hear each other)."""
    from redis.connection import parse_url

    return f"shopbot:{parse_url(url).get('db', 0)}:{name}"


def outbound_from_dict(body: dict[str, Any]) -> Outbound:
    """The inverse of `Outbound.to_dict` (unknown keys are ignored)."""
    return Outbound(**{k: v for k, v in body.items() if k in _OUTBOUND_FIELDS})


class Fanout:
    """Delivers an out-of-turn event to a conversation on its channel, across replicas when Redis is configured."""

    def __init__(self, deliverers: dict[str, Deliver], redis_url: str = "",
                 fanned: Iterable[str] = FANNED_CHANNELS, subscribe_wait_s: float = SUBSCRIBE_WAIT_S):
        self.deliverers = deliverers
        self.subscribe_wait_s = subscribe_wait_s
        self.redis_url = redis_url
        self.fanned = frozenset(fanned) if redis_url else frozenset()
        self.channel = redis_channel(redis_url, "deliveries") if redis_url else ""
        self.origin = uuid.uuid4().hex   # this replica, so it skips its own publications
        self._clients: dict[str, Any] = {}
        self._listener: asyncio.Task | None = None
        self._subscribed = asyncio.Event()

    async def deliver(self, conversation_id: str, event: Outbound, metadata: dict[str, Any]) -> bool:
        """Send `event` to the conversation's shopper; False when it could not be pushed live (it is in the
        conversation's history either way, so a reconnecting shopper sees it)."""
        channel, _, sender = conversation_id.partition(":")
        deliver = self.deliverers.get(channel)
        if deliver is None:
            return False
        if channel not in self.fanned:
            await deliver(sender, event, metadata)   # the platform's API (or the one process's sockets)
            return True
        from redis.exceptions import RedisError

        try:
            await deliver(sender, event, metadata)   # the sockets this replica holds
        except Exception:  # a broken local socket must not keep the delivery from the other replicas
            log.exception("delivery to a local %s socket failed", channel)
        body = {"origin": self.origin, "conversation": conversation_id, "event": event.to_dict(),
                "metadata": metadata}
        try:
            await self._redis("publisher").publish(self.channel, json.dumps(body))
        except (RedisError, OSError) as exc:
            log.warning("could not publish a delivery to the other replicas: %s", type(exc).__name__)
            return False
        return True

    async def running(self, app: web.Application) -> AsyncIterator[None]:
        """aiohttp `cleanup_ctx`: subscribe before serving, stop listening at cleanup."""
        await self.start()
        yield
        await self.close()

    async def start(self) -> None:
        """Subscribe to the other replicas' deliveries (no-op without Redis); waits for the subscription a few
        seconds, then keeps retrying in the background if Redis is not there yet."""
        if not self.fanned or self._listener is not None:
            return
        self._listener = asyncio.create_task(self._listen(), name="shopbot-fanout")
        try:
            await asyncio.wait_for(self._subscribed.wait(), self.subscribe_wait_s)
        except asyncio.TimeoutError:
            log.error("not subscribed to %s after %.0f s: agent replies sent through other replicas will not reach "
                      "this replica's /ws shoppers until Redis answers", self.channel, self.subscribe_wait_s)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    def _redis(self, role: str) -> Any:
        """The publisher (short timeouts: an agent's request never hangs on Redis) or the subscriber (blocking
        reads; its liveness is checked by pings)."""
        if role not in self._clients:
            import redis.asyncio as redis

            timeout = PUBLISH_TIMEOUT_S if role == "publisher" else None
            self._clients[role] = redis.from_url(self.redis_url, socket_timeout=timeout,
                                                 socket_connect_timeout=PUBLISH_TIMEOUT_S, socket_keepalive=True,
                                                 client_name=f"shopbot-fanout-{role}-{self.origin[:12]}")
        return self._clients[role]

    async def _listen(self) -> None:
        from redis.exceptions import RedisError

        wait = 0.5
        while True:
            pubsub = self._redis("subscriber").pubsub()
            try:
                await pubsub.subscribe(self.channel)
                await self._receive_all(pubsub)
            except (RedisError, OSError) as exc:
                if self._subscribed.is_set():   # it worked until now: retry soon
                    wait = 0.5
                self._subscribed.clear()
                log.warning("lost the delivery subscription (%s); retrying in %.1f s", type(exc).__name__, wait)
                await asyncio.sleep(wait)
                wait = min(wait * 2, RETRY_MAX_S)
            finally:
                try:
                    await pubsub.aclose()
                except (RedisError, OSError):
                    pass

    async def _receive_all(self, pubsub: Any) -> None:
        """Deliver what arrives; ping when idle, and give up on a connection that stops answering."""
        loop = asyncio.get_running_loop()
        heard = loop.time()
        while True:
            message = await pubsub.get_message(timeout=PING_EVERY_S)
            if message is None:
                if loop.time() - heard > 3 * PING_EVERY_S:
                    raise ConnectionError("Redis stopped answering the delivery subscription")
                await pubsub.ping()
                continue
            heard = loop.time()
            if message.get("type") == "subscribe":   # Redis confirmed: from now on nothing published is missed
                self._subscribed.set()
            elif message.get("type") == "message":
                await self._received(message["data"])

    async def _received(self, data: bytes | str) -> None:
        """Hand another replica's delivery to the sockets this one holds; a bad message is logged and dropped."""
        try:
            body = json.loads(data)
            if not isinstance(body, dict) or not isinstance(body.get("event"), dict):
                raise ValueError("not a delivery")
            if body.get("origin") == self.origin:
                return
            conversation = str(body["conversation"])
            event = outbound_from_dict(body["event"])
            metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed delivery on %s", self.channel)
            return
        channel, _, sender = conversation.partition(":")
        deliver = self.deliverers.get(channel)
        if deliver is None or channel not in self.fanned:
            return
        try:
            await deliver(sender, event, metadata)
        except Exception:  # one shopper's broken socket must not stop the others' deliveries
            log.exception("delivery to a %s socket failed", channel)


def socketio_manager(redis_url: str) -> Any:
    """python-socketio's Redis client manager for the socket.io server (None without Redis): an emit to a room
    reaches the room's sockets on every replica that shares the Redis database."""
    if not redis_url:
        return None
    import socketio

    return socketio.AsyncRedisManager(redis_url, channel=redis_channel(redis_url, "socketio"))


async def stop_socketio_manager(manager: Any) -> None:
    """Stop the manager's listening task and close its Redis connection (python-socketio leaves both running)."""
    thread = getattr(manager, "thread", None)
    if isinstance(thread, asyncio.Task):
        thread.cancel()
        await asyncio.gather(thread, return_exceptions=True)
    client = getattr(manager, "redis", None)
    if client is not None:
        await client.aclose()
