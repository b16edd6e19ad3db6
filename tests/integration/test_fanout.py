"""`Fanout` on the machine's Redis: two replicas' fan-outs in one process, with recording deliverers in place of
the channels (the channels themselves run for real in test_replicas.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from bot.channels.fanout import Fanout, outbound_from_dict, redis_channel
from bot.messages import Outbound

Heard = list[tuple[str, str, str]]   # (replica, sender, text)


def recorder(heard: Heard, replica: str, arrived: asyncio.Queue | None = None) -> Callable:
    async def deliver(sender: str, event: Outbound, metadata: dict) -> None:
        heard.append((replica, sender, event.text))
        if arrived is not None:
            arrived.put_nowait(event.text)
    return deliver


def replica(name: str, heard: Heard, redis_url: str, arrived: asyncio.Queue | None = None) -> Fanout:
    return Fanout({"web": recorder(heard, name, arrived), "telegram": recorder(heard, name)}, redis_url)


def test_a_ws_delivery_reaches_every_replica_once_and_a_messenger_one_only_from_the_sender(redis_url: str) -> None:
    async def scenario():
        heard: Heard = []
        arrived: asyncio.Queue = asyncio.Queue()
        a, b = replica("a", heard, redis_url), replica("b", heard, redis_url, arrived)
        await a.start()
        await b.start()
        try:
            sent = [await a.deliver("telegram:4711", Outbound("message", "to telegram"), {}),
                    await a.deliver("web:s1", Outbound("message", "hello", data={"agent": "sam"}), {}),
                    await a.deliver("web:s1", Outbound("message", "back"), {})]
            got = [await asyncio.wait_for(arrived.get(), 10) for _ in range(2)]   # b hears a's, in order
            await b.deliver("web:s2", Outbound("message", "from b"), {})
            got.append(await asyncio.wait_for(arrived.get(), 10))    # b's own, delivered at once
            await a.deliver("web:s3", Outbound("message", "last"), {})
            got.append(await asyncio.wait_for(arrived.get(), 10))    # everything before it has arrived too
        finally:
            await a.close()
            await b.close()
        return sent, got, heard

    sent, got, heard = asyncio.run(scenario())
    assert sent == [True, True, True] and got == ["hello", "back", "from b", "last"]
    assert [h for h in heard if h[0] == "a"] == [("a", "4711", "to telegram"), ("a", "s1", "hello"),
                                                 ("a", "s1", "back"), ("a", "s2", "from b"), ("a", "s3", "last")]
    assert [h for h in heard if h[0] == "b"] == [("b", "s1", "hello"), ("b", "s1", "back"), ("b", "s2", "from b"),
                                                 ("b", "s3", "last")]   # no telegram: the platform sends once


def test_a_malformed_publication_is_dropped_and_the_subscription_keeps_working(redis_url: str) -> None:
    import redis.asyncio as redis

    async def scenario():
        heard: Heard = []
        arrived: asyncio.Queue = asyncio.Queue()
        listener = replica("b", heard, redis_url, arrived)
        await listener.start()
        raw = redis.from_url(redis_url)
        try:
            channel = redis_channel(redis_url, "deliveries")
            for junk in (b"\xff not json", json.dumps([1, 2]), json.dumps({"origin": "x"}),
                         json.dumps({"origin": "x", "conversation": "web:s", "event": "text"}),
                         json.dumps({"origin": "x", "conversation": "telegram:1", "event": {"type": "message",
                                                                                          "text": "forged"}})):
                await raw.publish(channel, junk)
            await raw.publish(channel, json.dumps({"origin": "x", "conversation": "web:s9",
                                                   "event": {"type": "message", "text": "fine", "extra": 1}}))
            return await asyncio.wait_for(arrived.get(), 10), heard
        finally:
            await raw.aclose()
            await listener.close()

    text, heard = asyncio.run(scenario())
    assert text == "fine" and heard == [("b", "s9", "fine")]


def test_without_redis_the_local_channel_delivers_and_an_unknown_channel_is_refused() -> None:
    async def scenario():
        heard: Heard = []
        local = Fanout({"web": recorder(heard, "a")})
        await local.start()
        results = [await local.deliver("web:s1", Outbound("message", "hi"), {}),
                   await local.deliver("nowhere:s1", Outbound("message", "hi"), {})]
        await local.close()
        return results, heard

    assert asyncio.run(scenario()) == ([True, False], [("a", "s1", "hi")])


def test_with_redis_down_the_local_sockets_still_hear_and_the_caller_is_told() -> None:
    from tests.support import free_port

    async def scenario():
        heard: Heard = []
        down = Fanout({"web": recorder(heard, "a")}, f"redis://127.0.0.1:{free_port()}/0", subscribe_wait_s=0.5)
        await down.start()    # logs, retries in the background, does not hang the server's start
        try:
            return await down.deliver("web:s1", Outbound("message", "hi"), {}), heard
        finally:
            await down.close()

    assert asyncio.run(scenario()) == (False, [("a", "s1", "hi")])


@pytest.mark.parametrize("event", [Outbound("message", "x", buttons=[{"title": "T", "payload": "/p"}],
                                            data={"agent": "a"}), Outbound("handoff", "h", data={"status": "s"}),
                                   Outbound("error", "e", code="internal")])
def test_an_event_survives_the_trip_through_json(event: Outbound) -> None:
    assert outbound_from_dict(json.loads(json.dumps(event.to_dict()))) == event


def test_a_dropped_subscription_is_restored_and_hears_again(redis_url: str) -> None:
    """Redis closes the subscriber's connection (CLIENT KILL of that one connection): it subscribes again."""
    import redis.asyncio as redis

    async def subscriber_ids(raw, fanout: Fanout) -> list[int]:
        name = f"shopbot-fanout-subscriber-{fanout.origin[:12]}"
        return [int(c["id"]) for c in await raw.client_list() if c.get("name") == name]

    async def scenario():
        heard: Heard = []
        arrived: asyncio.Queue = asyncio.Queue()
        a, b = replica("a", heard, redis_url), replica("b", heard, redis_url, arrived)
        raw = redis.from_url(redis_url, decode_responses=True)
        await a.start()
        await b.start()
        try:
            [killed] = await subscriber_ids(raw, b)
            await raw.client_kill_filter(_id=killed)
            while (await subscriber_ids(raw, b)) in ([], [killed]) or not b._subscribed.is_set():
                await asyncio.sleep(0.05)
            await a.deliver("web:s1", Outbound("message", "after the drop"), {})
            return await asyncio.wait_for(arrived.get(), 10)
        finally:
            await raw.aclose()
            await a.close()
            await b.close()

    assert asyncio.run(scenario()) == "after the drop"
