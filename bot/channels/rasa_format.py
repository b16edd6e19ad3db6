"""Outbound events as Rasa channel messages (REST and socket.io speak these)."""

from __future__ import annotations

from typing import Any

from bot.messages import Outbound


def rest_messages(event: Outbound, recipient: str) -> list[dict[str, Any]]:
    """A `message` event as Rasa REST messages: text (with buttons), one image a product card, and custom data."""
    if event.type == "handoff" and event.text:
        return [{"recipient_id": recipient, "text": event.text, "custom": {"handoff": True}}]
    if event.type != "message":
        return []
    out: list[dict[str, Any]] = []
    if event.text or event.buttons:
        message: dict[str, Any] = {"recipient_id": recipient, "text": event.text}
        if event.buttons:
            message["buttons"] = [{"title": b["title"], "payload": b["payload"]} for b in event.buttons]
        out.append(message)
    for card in event.cards:
        if card.get("image"):
            out.append({"recipient_id": recipient, "image": card["image"]})
    custom = {k: v for k, v in {"cards": event.cards, "sources": event.sources, "source_titles": event.source_titles,
                                **event.data}.items() if v}
    if custom:
        out.append({"recipient_id": recipient, "custom": custom})
    return out


def socketio_messages(event: Outbound) -> list[dict[str, Any]]:
    """A `message` event as `bot_uttered` payloads the rasa-webchat widget renders."""
    out: list[dict[str, Any]] = []
    for message in rest_messages(event, ""):
        message.pop("recipient_id", None)
        if "buttons" in message:
            message["quick_replies"] = [{"content_type": "text", "title": b["title"], "payload": b["payload"]}
                                        for b in message.pop("buttons")]
        if "image" in message:
            src = message["image"]
            message = {"attachment": {"type": "image", "payload": {"src": src if src.startswith(("http", "/")) else "/" + src}}}
        out.append(message)
    return out
