"""Prometheus metrics for `/metrics`: turns, latency, intents, fallbacks, handoffs, connections, errors."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry()
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

TURNS = Counter("shopbot_turns", "Shopper messages handled", ["channel"], registry=REGISTRY)
TURN_SECONDS = Histogram("shopbot_turn_seconds", "Time from a message to its last reply event", ["channel"],
                         buckets=LATENCY_BUCKETS, registry=REGISTRY)
FIRST_EVENT_SECONDS = Histogram("shopbot_first_event_seconds", "Time from a message to its first reply event",
                                ["channel"], buckets=LATENCY_BUCKETS, registry=REGISTRY)
INTENTS = Counter("shopbot_intents", "Messages by recognised intent", ["intent"], registry=REGISTRY)
FALLBACKS = Counter("shopbot_fallbacks", "Replies that said the bot could not help", registry=REGISTRY)
HANDOFFS = Counter("shopbot_handoffs", "Conversations handed to a person", registry=REGISTRY)
CONNECTIONS = Gauge("shopbot_connections", "Open websocket and socket.io connections", ["channel"],
                    registry=REGISTRY)
ERRORS = Counter("shopbot_errors", "Error events sent to clients", ["channel", "code"], registry=REGISTRY)


def exposition() -> bytes:
    """The metrics in Prometheus' text format."""
    return generate_latest(REGISTRY)
