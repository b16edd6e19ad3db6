"""Prometheus metrics for `/metrics`: turns, latency, intents, fallbacks, handoffs, connections, errors, and the
model batches (sizes, waits, decode steps)."""

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

BATCH_SIZE = Histogram("shopbot_batch_size", "Requests run together in one model batch", ["model"],
                       buckets=(1, 2, 4, 8, 16, 32, 64), registry=REGISTRY)
BATCH_QUEUE_SECONDS = Histogram("shopbot_batch_queue_seconds", "Time a model request waited for its batch",
                                ["model"], buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
                                registry=REGISTRY)
BATCH_SECONDS = Histogram("shopbot_batch_seconds", "Time to run one model batch", ["model"],
                          buckets=LATENCY_BUCKETS, registry=REGISTRY)
BATCH_FAILURES = Counter("shopbot_batch_failures", "Model requests that failed (alone, after their batch failed)",
                         ["model"], registry=REGISTRY)
GENERATED_TOKENS = Counter("shopbot_generated_tokens", "Tokens the language model has written", registry=REGISTRY)
REPLIES = Counter("shopbot_replies", "Answers from sources, by how they were written: generated (the LM, guarded), "
                  "deadline (quoted at once: the LM's queue would have started them after responder.deadline_ms), "
                  "fallback (quoted: no generated sentence survived the guard), extractive (quoted by setting)",
                  ["how"], registry=REGISTRY)
LM_WAIT_SECONDS = Histogram("shopbot_lm_wait_seconds", "The LM queue's expected wait when a reply was asked for",
                            buckets=(0.0, 0.1, 0.25, 0.5, 1.0, 1.5, 2.5, 5.0, 10.0), registry=REGISTRY)
