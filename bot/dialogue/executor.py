"""Running custom actions: in-process with rasa-sdk's `ActionExecutor`, or on any rasa-sdk action server over HTTP.

Both speak the Rasa webhook protocol: `{next_action, sender_id, tracker, domain, version}` in,
`{events, responses}` out, so an action behaves the same wherever it runs.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

log = logging.getLogger("shopbot.actions")
PROTOCOL_VERSION = "3.21.1"


@dataclass
class ActionResult:
    """What an action did: events to apply and responses to send (rasa-sdk's message dicts)."""

    events: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)


class ActionUnavailable(RuntimeError):
    """The action could not be run: the action server is down, timed out, failed, or does not know the action."""


class ActionRunner(Protocol):
    async def run(self, action: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionResult: ...
    async def close(self) -> None: ...


def action_call(action: str, tracker: dict[str, Any], domain: dict[str, Any]) -> dict[str, Any]:
    """The webhook request body for `action`."""
    return {"next_action": action, "sender_id": tracker["sender_id"], "tracker": tracker, "domain": domain,
            "version": PROTOCOL_VERSION}


class InProcessExecutor:
    """Actions from Python packages (default: `actions`), run in this process by rasa-sdk's own executor."""

    def __init__(self, packages: tuple[str, ...] = ("actions",)):
        self._executor = ActionExecutor()
        for package in packages:
            self._executor.register_package(package)

    @property
    def names(self) -> list[str]:
        return sorted(self._executor.actions)

    async def run(self, action: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionResult:
        try:
            result = await self._executor.run(action_call(action, tracker, domain))
        except ActionNotFoundException as exc:
            raise ActionUnavailable(str(exc)) from None
        except ActionExecutionRejection as exc:
            raise ActionUnavailable(f"action '{action}' rejected the call: {exc}") from None
        except Exception as exc:  # an action's bug must not end the conversation
            log.exception("action %s failed", action)
            raise ActionUnavailable(f"action '{action}' failed: {type(exc).__name__}") from None
        return ActionResult(list(result.events), list(result.responses)) if result else ActionResult()

    async def close(self) -> None:
        return None


class _Retryable(Exception):
    pass


class RemoteExecutor:
    """Actions on a rasa-sdk action server (`POST {url}/webhook`), with a timeout and retries with back-off.

    Connection errors, timeouts and 5xx answers are retried; a 404 (unknown action) or 400 (rejected) is not.
    """

    def __init__(self, url: str, timeout_s: float = 5.0, attempts: int = 3, backoff_s: float = 0.2):
        base = url.rstrip("/")
        self.url = base if base.endswith("/webhook") else base + "/webhook"
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._session: aiohttp.ClientSession | None = None

    async def run(self, action: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionResult:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        body = action_call(action, tracker, domain)
        try:
            async for attempt in AsyncRetrying(stop=stop_after_attempt(self.attempts), reraise=True,
                                               wait=wait_exponential(multiplier=self.backoff_s, max=2.0),
                                               retry=retry_if_exception_type(_Retryable)):
                with attempt:
                    return await self._post(action, body)
        except _Retryable as exc:
            raise ActionUnavailable(f"action server {self.url} unavailable after {self.attempts} tries: {exc}") \
                from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post(self, action: str, body: dict[str, Any]) -> ActionResult:
        assert self._session is not None
        try:
            async with self._session.post(self.url, json=body) as response:
                if response.status >= 500:
                    raise _Retryable(f"HTTP {response.status}")
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        if response.status == 404:
            raise ActionUnavailable(f"the action server has no action '{action}'")
        if response.status != 200 or not isinstance(data, dict):
            raise ActionUnavailable(f"action '{action}' answered HTTP {response.status}: "
                                    f"{(data or {}).get('error') if isinstance(data, dict) else data}")
        return ActionResult(list(data.get("events") or []), list(data.get("responses") or []))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
