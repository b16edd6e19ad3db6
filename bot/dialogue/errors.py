"""Errors the dialogue layer raises when the state it needs cannot be reached (not a bug in a turn)."""

from __future__ import annotations


class StateUnavailable(RuntimeError):
    """The conversation store or the lock service (database, Redis) cannot be reached right now: the turn is not
    run, the shopper is told to try again shortly (`error` code `unavailable`), and `/ready` reports it."""


class StoreRefused(RuntimeError):
    """The conversation store will not open (another process holds its database without Redis, or the SQLite file
    is damaged): the server refuses to start with this message rather than serve errors."""
