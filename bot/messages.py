"""What flows between a channel and the engine: one `Inbound` message in, `Outbound` events out."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

OutboundType = Literal["typing", "chunk", "message", "handoff", "error"]


@dataclass(frozen=True)
class Inbound:
    """A shopper's message. `timestamp` (seconds) is for replays and tests; live channels leave it None."""

    sender_id: str
    text: str
    channel: str = "default"
    metadata: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None
    timestamp: float | None = None

    @property
    def conversation_id(self) -> str:
        """Conversations are per channel: the same sender id on two channels are two shoppers."""
        return f"{self.channel}:{self.sender_id}"


@dataclass
class Outbound:
    """One event for the channel: `chunk` (streamed text), `message` (final text with buttons, cards, sources and
    custom data), `handoff` (a person has or takes the chat), `typing`, or `error` (`code`, `text`)."""

    type: OutboundType
    text: str = ""
    buttons: list[dict[str, str]] = field(default_factory=list)
    cards: list[dict[str, Any]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    code: str = ""
    source_titles: list[str] = field(default_factory=list)   # what shoppers see for `sources`, in the same order

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", [], {})} | {"type": self.type}
