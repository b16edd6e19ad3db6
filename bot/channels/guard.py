"""What every network channel checks before a message reaches the engine: the token, the origin, the size and
the rate. Errors carry a stable `code` and a plain `detail`, never a stack trace."""

from __future__ import annotations

import hmac
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from bot.config import ServerSettings


@dataclass(frozen=True)
class Refusal:
    code: str
    detail: str
    status: int = 400


def error_response(code: str, detail: str, status: int = 400) -> web.Response:
    """The HTTP error every channel answers with: `{"type": "error", "code", "detail"}`."""
    return web.json_response({"type": "error", "code": code, "detail": detail}, status=status)


class RateLimiter:
    """At most `limit` events per `window_s` per key (a sliding window); idle keys are dropped."""

    def __init__(self, limit: int, window_s: float = 60.0):
        self.limit = limit
        self.window_s = window_s
        self._events: dict[str, deque[float]] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        events = self._events.setdefault(key, deque())
        while events and now - events[0] > self.window_s:
            events.popleft()
        if len(events) >= self.limit:
            return False
        events.append(now)
        if len(self._events) > 10_000:  # forget keys with nothing in their window
            for stale in [k for k, v in self._events.items() if not v or now - v[-1] > self.window_s]:
                del self._events[stale]
        return True


class ChannelGuard:
    """Token, origin, message-size and rate checks shared by the channels."""

    def __init__(self, settings: ServerSettings):
        self.settings = settings
        self.per_ip = RateLimiter(settings.ip_messages_per_minute)
        self.per_sender = RateLimiter(settings.messages_per_minute)

    def token_ok(self, offered: str | None) -> bool:
        expected = self.settings.auth_token
        return not expected or (offered is not None and hmac.compare_digest(offered.encode(), expected.encode()))

    def request_token(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            return header[7:].strip()
        return request.headers.get("X-Shopbot-Token") or request.query.get("token")

    def origin_ok(self, request: web.Request) -> bool:
        """Browsers send `Origin`; it must be the server's own or on the allow-list (other clients send none)."""
        origin = request.headers.get("Origin")
        if not origin:
            return True
        return urlsplit(origin).netloc == request.host or origin in self.settings.cors_origins \
            or "*" in self.settings.cors_origins

    def check_request(self, request: web.Request) -> Refusal | None:
        if not self.token_ok(self.request_token(request)):
            return Refusal("unauthorized", "a valid token is required", 401)
        if not self.origin_ok(request):
            return Refusal("forbidden_origin", "this origin may not use the chat", 403)
        return None

    def check_message(self, text: object, sender_key: str, ip: str) -> Refusal | None:
        if not isinstance(text, str) or not text.strip():
            return Refusal("invalid_message", "`text` must be a non-empty string")
        if len(text) > self.settings.max_message_chars:
            return Refusal("too_large", f"messages are limited to {self.settings.max_message_chars} characters", 413)
        if not self.per_sender.allow(sender_key) or not self.per_ip.allow(ip):
            return Refusal("rate_limited", "too many messages; wait a moment", 429)
        return None


def client_ip(request: web.Request) -> str:
    return request.remote or "unknown"
