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
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

log = logging.getLogger("shopbot.actions")
PROTOCOL_VERSION = "3.21.1"


@dataclass
class ActionResult:
    """What an action did: events to apply and responses to send (rasa-sdk's message dicts)."""

    events: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)


# Actions that change an order: once their request may have reached the action server, a timeout or a lost
# connection does not mean they did not happen. The demo's back-end makes them idempotent (same conversation,
# action, order and triggering message: done once), so retrying one is safe.
SIDE_EFFECTS = frozenset({"action_cancel_order", "action_change_address", "action_start_return"})


class ActionUnavailable(RuntimeError):
    """The action could not be run: the action server is down, timed out, failed, or does not know the action."""


class ActionOutcomeUnknown(ActionUnavailable):
    """An action with side effects was sent but no answer came back (timeout, connection lost, server error): it
    may have happened, or may still happen. The shopper must not be told it failed."""


class ActionRunner(Protocol):
    async def run(self, action: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionResult: ...
    async def close(self) -> None: ...


def action_call(action: str, tracker: dict[str, Any], domain: dict[str, Any]) -> dict[str, Any]:
    """The webhook request body for `action`."""
    return {"next_action": action, "sender_id": tracker["sender_id"], "tracker": tracker, "domain": domain,
            "version": PROTOCOL_VERSION}


class InProcessExecutor:
    """Actions from Python packages (default: `actions`), run in this process by rasa-sdk's own executor."""

    def __init__(self, packages: tuple[str, ...] = ("actions",), side_effects: frozenset[str] = SIDE_EFFECTS):
        self._executor = ActionExecutor()
        self.side_effects = side_effects
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
            error = ActionOutcomeUnknown if action in self.side_effects else ActionUnavailable  # it may have changed
            raise error(f"action '{action}' failed: {type(exc).__name__}") from None
        return ActionResult(list(result.events), list(result.responses)) if result else ActionResult()

    async def close(self) -> None:
        return None


class _Retryable(Exception):
    def __init__(self, message: str, sent: bool):
        super().__init__(message)
        self.sent = sent   # the request may have reached the server (anything but a refused connection)


class RemoteExecutor:
    """Actions on a rasa-sdk action server (`POST {url}/webhook`), with a timeout and retries with back-off.

    Connection errors, timeouts and 5xx answers are retried; a 404 (unknown action) or 400 (rejected) is not. An
    action with side effects whose request may have arrived (anything but a refused connection) is not retried and
    raises `ActionOutcomeUnknown`: it may have happened, or happen once the server catches up. Every other failure
    that outlasts the tries raises `ActionUnavailable`.
    """

    def __init__(self, url: str, timeout_s: float = 5.0, attempts: int = 3, backoff_s: float = 0.2,
                 side_effects: frozenset[str] = SIDE_EFFECTS):
        base = url.rstrip("/")
        self.url = base if base.endswith("/webhook") else base + "/webhook"
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.side_effects = side_effects
        self._session: aiohttp.ClientSession | None = None

    async def run(self, action: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionResult:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        body = action_call(action, tracker, domain)  # the same body every try: the same idempotency key
        sent = False

        def retryable(exc: BaseException) -> bool:
            # a change whose request may have arrived is not sent again to a stalled server (it would only pile up
            # copies there): the shopper hears it is not known yet and may ask again, which is safe
            return isinstance(exc, _Retryable) and not (exc.sent and action in self.side_effects)

        try:
            async for attempt in AsyncRetrying(stop=stop_after_attempt(self.attempts), reraise=True,
                                               wait=wait_exponential(multiplier=self.backoff_s, max=2.0),
                                               retry=retry_if_exception(retryable)):
                with attempt:
                    try:
                        return await self._post(action, body)
                    except _Retryable as exc:
                        sent = sent or exc.sent
                        raise
        except _Retryable as exc:
            if sent and action in self.side_effects:
                raise ActionOutcomeUnknown(f"action server {self.url} did not answer '{action}': {exc}") from None
            raise ActionUnavailable(f"action server {self.url} unavailable after {self.attempts} tries: {exc}") \
                from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post(self, action: str, body: dict[str, Any]) -> ActionResult:
        assert self._session is not None
        try:
            async with self._session.post(self.url, json=body) as response:
                if response.status >= 500:
                    raise _Retryable(f"HTTP {response.status}", sent=True)
                data = await response.json(content_type=None)
        except aiohttp.ClientConnectorError as exc:  # no connection: the request never left
            raise _Retryable(f"{type(exc).__name__}: {exc}".rstrip(": "), sent=False) from None
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:  # sent, or may have been: the answer is lost
            raise _Retryable(f"{type(exc).__name__}: {exc}".rstrip(": "), sent=True) from None
        if response.status == 404:
            raise ActionUnavailable(f"the action server has no action '{action}'")
        if response.status != 200 or not isinstance(data, dict):
            raise ActionUnavailable(f"action '{action}' answered HTTP {response.status}: "
                                    f"{(data or {}).get('error') if isinstance(data, dict) else data}")
        return ActionResult(list(data.get("events") or []), list(data.get("responses") or []))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
