"""What every network channel checks before a message reaches the engine: the token, the origin, the text and
the rate. Errors carry a stable `code` and a plain `detail`, never a stack trace."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.channels.rates import RateLimits
from bot.config import ServerSettings

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Refusal:
    code: str
    detail: str
    status: int = 400


class ClientRefused(Exception):
    """A client's event or rating that is not kept: `code` and `detail` for the client, `status` for HTTP."""

    def __init__(self, code: str, detail: str, status: int = 400):
        super().__init__(detail)
        self.code, self.detail, self.status = code, detail, status


def error_response(code: str, detail: str, status: int = 400) -> web.Response:
    """The HTTP error every channel answers with: `{"type": "error", "code", "detail"}`."""
    return web.json_response({"type": "error", "code": code, "detail": detail}, status=status)


def valid_unicode(text: str) -> bool:
    """False for a string UTF-8 cannot hold (a lone surrogate such as "\\ud800", which JSON escapes can carry)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _bytes(text: str) -> bytes:
    """`text` as bytes for a constant-time comparison; never raises (a lone surrogate is encoded as is)."""
    return text.encode("utf-8", "surrogatepass")


def origin_parts(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL or `Origin`, lowercased with the default port filled in."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def local_port(request: web.Request) -> int | None:
    """The port of the listening socket the request arrived on (not the `Host` header, which the client writes)."""
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    return sockname[1] if isinstance(sockname, tuple) and len(sockname) >= 2 else None


class ChannelGuard:
    """Token, origin, message and rate checks shared by the channels."""

    def __init__(self, settings: ServerSettings, redis_url: str = ""):
        self.settings = settings
        self.rates = RateLimits(settings.messages_per_minute, settings.ip_messages_per_minute, redis_url)
        self.any_origin = "*" in settings.cors_origins
        self.origins = {parts for parts in map(origin_parts, [*settings.cors_origins, settings.public_url]) if parts}
        host = settings.host.strip("[]").lower()
        # without a public URL the server's own pages are reached only on a loopback name (or its own address)
        self.local_hosts = () if settings.public_url else \
            tuple({*LOOPBACK_HOSTS, *([host] if host not in ("", "0.0.0.0", "::") else [])})

    def token_ok(self, offered: str | None) -> bool:
        expected = self.settings.auth_token
        return not expected or (offered is not None and hmac.compare_digest(_bytes(offered), _bytes(expected)))

    def request_token(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            return header[7:].strip()
        return request.headers.get("X-Shopbot-Token") or request.query.get("token")

    def origin_allowed(self, origin: str, listening_port: int | None = None) -> bool:
        """A browser `Origin` is allowed when it is `public_url`'s, on `cors_origins`, or (no public URL) a
        loopback name (or `server.host`) on the port this server listens on. The `Host` header never counts: a
        DNS-rebinding page controls it."""
        if self.any_origin:
            return True
        parts = origin_parts(origin)
        if parts is None:
            return False
        if parts in self.origins:
            return True
        ports = {self.settings.port, listening_port}
        return parts[1] in self.local_hosts and parts[2] in ports

    def origin_ok(self, request: web.Request) -> bool:
        """Browsers send `Origin` (other clients send none); see `origin_allowed`."""
        origin = request.headers.get("Origin")
        return not origin or self.origin_allowed(origin, local_port(request))

    def engineio_origin(self, origin: str, environ: dict[str, Any] | None = None) -> bool:
        """`origin_allowed` as python-socketio's `cors_allowed_origins` callable."""
        request = (environ or {}).get("aiohttp.request")
        return self.origin_allowed(origin, local_port(request) if request is not None else None)

    def check_request(self, request: web.Request) -> Refusal | None:
        if not self.token_ok(self.request_token(request)):
            return Refusal("unauthorized", "a valid token is required", 401)
        if not self.origin_ok(request):
            return Refusal("forbidden_origin", "this origin may not use the chat", 403)
        return None

    def check_text(self, text: object) -> Refusal | None:
        """The text alone: a non-empty string, valid Unicode, within `max_message_chars`."""
        if not isinstance(text, str) or not text.strip():
            return Refusal("invalid_message", "`text` must be a non-empty string")
        if not valid_unicode(text):
            return Refusal("invalid_message", "the text is not valid Unicode (it holds a lone surrogate such as "
                                              "\\ud800); send UTF-8 text")
        if len(text) > self.settings.max_message_chars:
            return Refusal("too_large", f"messages are limited to {self.settings.max_message_chars} characters", 413)
        return None

    async def check_message(self, text: object, sender_key: str, ip: str) -> Refusal | None:
        """`check_text`, then one message against the sender's and the address's rate (shared through Redis
        when configured)."""
        refusal = self.check_text(text)
        if refusal is not None:
            return refusal
        if not await self.rates.allow(sender_key, ip):
            return Refusal("rate_limited", "too many messages; wait a moment", 429)
        return None

    async def close(self) -> None:
        await self.rates.close()


def client_ip(request: web.Request) -> str:
    return request.remote or "unknown"
