"""Talking to a messaging platform: JSON POSTs to its API with a timeout and retries with back-off, and its webhook
bodies checked against pydantic models of their shape."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, TypeVar

import aiohttp
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

log = logging.getLogger("shopbot.platform")


class _Retry(Exception):
    pass


class PlatformClient:
    """One HTTP session for a platform's API; 5xx, 429 and connection errors are retried."""

    def __init__(self, timeout_s: float = 10.0, attempts: int = 3, backoff_s: float = 0.5):
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._session: aiohttp.ClientSession | None = None

    async def post_json(self, url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> bool:
        """POST `body`; True when the platform accepted it. Failures are logged, never raised to the channel."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        try:
            async for attempt in AsyncRetrying(stop=stop_after_attempt(self.attempts), reraise=True,
                                               wait=wait_exponential(multiplier=self.backoff_s, max=5.0),
                                               retry=retry_if_exception_type(_Retry)):
                with attempt:
                    return await self._post(url, body, headers or {})
        except _Retry as exc:
            log.warning("giving up on %s after %d tries: %s", url.split("/bot")[0], self.attempts, exc)
        return False

    async def _post(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> bool:
        assert self._session is not None
        try:
            async with self._session.post(url, json=body, headers=headers) as response:
                if response.status >= 500 or response.status == 429:
                    raise _Retry(f"HTTP {response.status}")
                if response.status >= 400:
                    log.warning("platform refused a reply: HTTP %s %s", response.status, (await response.text())[:300])
                    return False
                return True
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _Retry(type(exc).__name__) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_platform_body(model: type[ModelT], body: Any, what: str) -> ModelT:
    """`body` checked against a platform's pydantic model; ValueError naming the first problems when it is not
    `what` ("a Telegram Update", "a WhatsApp delivery"), so the webhook answers 400 rather than 500."""
    if not isinstance(body, dict):
        raise ValueError(f"not {what}: the body must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ValueError(f"not {what}: " + "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])) from None

