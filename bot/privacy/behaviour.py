"""Storefront behaviour events: what a shopper looked at, clicked and put in the cart, kept as events of the
conversation's log (so they are exported and erased with it), and only with the shopper's consent.

    {"event": "behaviour", "timestamp": 1732377600.0, "name": "product_viewed", "product_id": "P1001",
     "channel": "web"}

`name` is one of `product_viewed`, `card_clicked`, `added_to_cart`. `dwell_s` (seconds, optional, on
`product_viewed` and `added_to_cart`) marks a dwell report: the product was looked at, or sat in the cart, that
long; `behaviour_history` folds it into the event it reports on. Consent is the kind `behaviour` of
`privacy.consent` (`opt_in` unless the store chose `notice`). Withdrawing it deletes the conversation's behaviour
events (`forget_behaviour`, on the SQL conversation store); and whatever a store could not delete is never used
again: `behaviour_history` reads only what came after the latest withdrawal, and nothing while consent is off.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from bot.privacy.consent import CONSENT, allows

BEHAVIOUR = "behaviour"            # the event type, and the kind of data its consent is asked for
EVENT_NAMES = ("product_viewed", "card_clicked", "added_to_cart")
DWELL_NAMES = frozenset({"product_viewed", "added_to_cart"})
FIELDS = frozenset({"name", "product_id", "dwell_s"})
MAX_PRODUCT_ID_CHARS = 64
MAX_DWELL_S = 86_400.0


class BehaviourError(ValueError):
    """A behaviour event that names no known event or product, or carries a field of the wrong type."""


def parse_behaviour(frame: Mapping[str, Any], known_product_ids: Collection[str]) -> dict[str, Any]:
    """`{"name", "product_id"[, "dwell_s"]}` from a client's event (its `type` key, if any, is ignored);
    `BehaviourError` with a plain reason when a field is missing, unknown, of the wrong type or too long."""
    if not isinstance(frame, Mapping):
        raise BehaviourError("an event must be a JSON object")
    unknown = sorted(str(k)[:40].encode("utf-8", "replace").decode() for k in frame if k not in FIELDS and k != "type")
    if unknown:
        raise BehaviourError(f"unknown field {', '.join(unknown)}; an event has name, product_id and dwell_s")
    name = frame.get("name")
    if not isinstance(name, str) or name not in EVENT_NAMES:
        raise BehaviourError(f"`name` must be one of {', '.join(EVENT_NAMES)}")
    product_id = frame.get("product_id")
    if not isinstance(product_id, str) or not product_id:
        raise BehaviourError("`product_id` (a string) is required")
    if len(product_id) > MAX_PRODUCT_ID_CHARS:
        raise BehaviourError(f"`product_id` is longer than {MAX_PRODUCT_ID_CHARS} characters")
    if product_id not in known_product_ids:
        raise BehaviourError("`product_id` is not a product of this store")
    event: dict[str, Any] = {"name": name, "product_id": product_id}
    if "dwell_s" in frame:
        dwell = frame["dwell_s"]
        if name not in DWELL_NAMES:
            raise BehaviourError(f"`dwell_s` is only for {' and '.join(sorted(DWELL_NAMES))}")
        if isinstance(dwell, bool) or not isinstance(dwell, (int, float)) or not math.isfinite(dwell) \
                or not 0 <= dwell <= MAX_DWELL_S:
            raise BehaviourError(f"`dwell_s` must be a number of seconds from 0 to {MAX_DWELL_S:.0f}")
        event["dwell_s"] = round(float(dwell), 1)
    return event


def behaviour_event(parsed: Mapping[str, Any], channel: str, timestamp: float | None = None) -> dict[str, Any]:
    """The event stored for a parsed behaviour event."""
    return {"event": BEHAVIOUR, "timestamp": time.time() if timestamp is None else timestamp,
            "name": parsed["name"], "product_id": parsed["product_id"], "channel": channel,
            **({"dwell_s": parsed["dwell_s"]} if "dwell_s" in parsed else {})}


def behaviour_history(events: Iterable[Mapping[str, Any]], settings: Any) -> list[dict[str, Any]]:
    """The conversation's behaviour events, oldest first, while its consent allows them (else `[]`); only those
    after the latest withdrawal of consent. A dwell report (`dwell_s`) is folded into the latest earlier event of
    the same name and product (which gets the longest `dwell_s`); one with no such event stands alone.

    `events`: the conversation's events (`store.load_all`: consent given in an earlier session counts);
    `settings`: the store's `PrivacySettings` (or its `Settings`). Copies: changing them changes nothing stored."""
    privacy = getattr(settings, "privacy", settings)
    events = list(events)
    if not allows(privacy, BEHAVIOUR, events):
        return []
    start = 0
    for index, event in enumerate(events):
        if event.get("event") == CONSENT and BEHAVIOUR in (event.get("withdrawn") or ()):
            start = index + 1
    history: list[dict[str, Any]] = []
    for event in events[start:]:
        if event.get("event") != BEHAVIOUR or event.get("name") not in EVENT_NAMES:
            continue
        copy = dict(event)
        if "dwell_s" in copy:
            earlier = next((h for h in reversed(history)
                            if h["name"] == copy["name"] and h["product_id"] == copy["product_id"]), None)
            if earlier is not None:
                earlier["dwell_s"] = max(float(earlier.get("dwell_s") or 0), float(copy["dwell_s"]))
                continue
        history.append(copy)
    return history


def forget_behaviour_sync(store: Any, conversation_id: str) -> int:
    """Delete a conversation's behaviour events from the SQL conversation store (SQLite overwrites the freed
    pages); returns how many. A store that cannot delete events (not `bot.dialogue.store.ConversationStore`)
    deletes nothing: `behaviour_history` never reads events from before a withdrawal anyway."""
    from sqlalchemy import delete

    from bot.dialogue.store import ConversationStore, events

    if not isinstance(store, ConversationStore):
        return 0
    sqlite = store.url.startswith("sqlite")
    with store._reachable(), store.engine.begin() as connection:
        if sqlite:
            connection.exec_driver_sql("PRAGMA secure_delete=ON")
        count = connection.execute(delete(events).where(events.c.conversation_id == conversation_id,
                                                        events.c.type == BEHAVIOUR)).rowcount
    if sqlite and ":memory:" not in store.url and count:
        with store._reachable(), store.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return count


async def forget_behaviour(store: Any, conversation_id: str) -> int:
    """`forget_behaviour_sync` in a worker thread (the caller holds the conversation's lock)."""
    return await asyncio.to_thread(forget_behaviour_sync, store, conversation_id)
