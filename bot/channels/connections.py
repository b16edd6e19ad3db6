"""Open browser sockets (`/ws` and socket.io together) against the server's caps: in total
(`server.max_connections`) and per client address (`server.max_connections_per_ip`), so one client cannot take
every slot."""

from __future__ import annotations

from collections import Counter

from bot.channels.guard import Refusal


class ConnectionSlots:
    """`take(address)` reserves a slot or says why not; `release(address)` gives it back."""

    def __init__(self, total: int, per_address: int):
        self.total = total
        self.per_address = per_address
        self.open = 0
        self.by_address: Counter[str] = Counter()

    def take(self, address: str) -> Refusal | None:
        if self.open >= self.total:
            return Refusal("too_many_connections", "the server is full; try again shortly", 503)
        if self.per_address and self.by_address[address] >= self.per_address:
            return Refusal("too_many_connections_from_address",
                           f"at most {self.per_address} open chats per address; close one and try again", 429)
        self.open += 1
        self.by_address[address] += 1
        return None

    def release(self, address: str) -> None:
        self.open = max(0, self.open - 1)
        self.by_address[address] -= 1
        if self.by_address[address] <= 0:
            del self.by_address[address]
