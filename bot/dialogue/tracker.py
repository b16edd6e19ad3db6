"""A conversation as Rasa-style events (`user`, `bot`, `slot`, `action`, `active_loop`, `session_started`,
`restart`, `pause`, `resume`, ...) and the state they add up to.

Events are plain dicts, built with rasa-sdk's own constructors (`rasa_sdk.events`), so a tracker goes to an action
server as it is. The state (slots, active form, paused, latest message) is folded from the events, never stored
beside them: the event log is the truth. When a new session starts, the slots it carries over (and a handed-off
chat's pause) are written right after `session_started`, so one session's events hold its whole state and a turn
needs to load only the current session (`ConversationStore.load`).
"""

from __future__ import annotations

import time
from typing import Any

from rasa_sdk.events import ConversationPaused, EventType, SlotSet

from bot.dialogue.domain import Domain

ACTION_LISTEN = "action_listen"
SESSION_START = "action_session_start"


class DialogueTracker:
    """The events of one conversation and the state they give."""

    def __init__(self, conversation_id: str, domain: Domain, events: list[EventType] | None = None):
        self.conversation_id = conversation_id
        self.domain = domain
        self.events: list[EventType] = []
        self.new_events: list[EventType] = []   # appended since loading: what the store must save this turn
        # the incoming message id when an earlier session already holds it (`SessionEvents`), for `has_message`
        self.earlier_message_ids: frozenset[str] = frozenset(getattr(events, "earlier_message_ids", ()))
        self._reset_state()
        for event in events or []:
            self._apply(event)
            self.events.append(event)

    def _reset_state(self) -> None:
        self.slots: dict[str, Any] = self.domain.initial_slots()
        self.active_loop: str | None = None
        self.paused = False
        self.latest_message: dict[str, Any] = {}
        self.latest_action_name: str | None = None
        self.followup_action: str | None = None

    # -- events -----------------------------------------------------------------------------------------------

    def update(self, event: EventType) -> None:
        """Append an event (stamped with the time when it has none) and apply it to the state."""
        if event.get("timestamp") is None:
            event = {**event, "timestamp": time.time()}
        self._apply(event)
        self.events.append(event)
        self.new_events.append(event)
        if event["event"] == "session_started":
            self._record_carried_state(event["timestamp"])

    def _record_carried_state(self, timestamp: float) -> None:
        """After a new `session_started`: SlotSet events for the slots carried over (and a pause when a person has
        the chat), so the session can be folded from its own events."""
        initial = self.domain.initial_slots()
        for name in self.domain.carried_slots():
            value = self.slots.get(name)
            if value != initial.get(name):
                self.update(SlotSet(name, value, timestamp=timestamp))
        if self.paused:
            self.update(ConversationPaused(timestamp=timestamp))

    def _apply(self, event: EventType) -> None:
        kind = event["event"]
        if kind == "slot":
            self.slots[event["name"]] = event["value"]
        elif kind == "user":
            self.latest_message = {"text": event.get("text"), **(event.get("parse_data") or {})}
        elif kind == "action":
            self.latest_action_name = event.get("name")
            if self.followup_action == event.get("name"):
                self.followup_action = None
        elif kind == "active_loop":
            self.active_loop = event.get("name")
        elif kind == "pause":
            self.paused = True
        elif kind == "resume":
            self.paused = False
        elif kind == "followup":
            self.followup_action = event.get("name")
        elif kind == "restart":
            self._reset_state()
        elif kind == "reset_slots":
            self.slots = self.domain.initial_slots()
        elif kind == "session_started":
            carried = {name: self.slots.get(name) for name in self.domain.carried_slots()}
            paused = self.paused
            self._reset_state()
            self.paused = paused  # a chat with a person stays with the person
            self.slots.update(carried)

    # -- derived state ------------------------------------------------------------------------------------------

    def has_message(self, message_id: str) -> bool:
        """True when a user message with this channel message id was answered: its turn ran to its end (the
        engine closes every turn with `action_listen`). A turn cut short (the server stopped mid-turn) leaves the
        user event without it, so the message is answered when it comes again. Messages of earlier sessions (not
        loaded for a turn) count as answered when the store found the id there (`earlier_message_ids`)."""
        if message_id in self.earlier_message_ids:
            return True
        waiting = False
        for event in self.events:
            if event["event"] == "user":
                waiting = (event.get("metadata") or {}).get("message_id") == message_id
            elif waiting and event["event"] == "action" and event.get("name") == ACTION_LISTEN:
                return True
        return False

    def last_user_time(self) -> float | None:
        """When the shopper last wrote, or None in a new conversation."""
        return next((e["timestamp"] for e in reversed(self.events) if e["event"] == "user"), None)

    def session_expired(self, now: float) -> bool:
        """True when the shopper's last message is older than the domain's session expiration time."""
        minutes = self.domain.session_config.session_expiration_time
        last = self.last_user_time()
        return minutes > 0 and last is not None and now - last > minutes * 60

    def history(self, turns: int = 4, before_latest: bool = False) -> list[tuple[str, str]]:
        """The last `turns` (role, text) pairs of this session, for prompts; `before_latest` leaves out the
        shopper's latest message (the question a prompt asks separately)."""
        pairs: list[tuple[str, str]] = []
        if turns <= 0:
            return pairs
        events = self.events
        if before_latest:
            latest = next((i for i in range(len(events) - 1, -1, -1) if events[i]["event"] == "user"), None)
            events = events[:latest] if latest is not None else events
        for event in reversed(events):
            if event["event"] == "session_started":
                break
            if event["event"] == "user" and event.get("text"):
                pairs.append(("user", event["text"]))
            elif event["event"] == "bot" and event.get("text"):
                pairs.append(("assistant", event["text"]))
            if len(pairs) >= turns:
                break
        return pairs[::-1]

    def to_rasa_state(self) -> dict[str, Any]:
        """The tracker as the Rasa webhook protocol sends it to an action server."""
        return {"sender_id": self.conversation_id, "slots": dict(self.slots), "latest_message": self.latest_message,
                "events": list(self.events), "paused": self.paused, "followup_action": self.followup_action,
                "active_loop": {"name": self.active_loop} if self.active_loop else {},
                "latest_action_name": self.latest_action_name, "latest_input_channel": None}
