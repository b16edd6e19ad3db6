"""Typed contracts between the dialogue engine and what it talks to.

`Understanding` is what one message means (built once per turn by `bot.dialogue.understanding`); `Evidence` is what
the knowledge base holds for it (searched only when the policy asks). The protocols name what the engine needs from
the NLU parser, the answerer, the recommender, the action runner, the locks and the conversation store, so the
engine imports none of the concrete classes (and no model code). Tracker state and domain go to actions as rasa-sdk's
own wire types (`rasa_sdk.types.TrackerState`, `DomainDict`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from rasa_sdk.types import DomainDict, TrackerState

if TYPE_CHECKING:  # types only: importing them would pull the retrieval and responder stacks
    from retrieval.documents import Product, SearchHit

UnderstandingSource = Literal["payload", "nlu", "none", "command"]
Command = Literal["restart", "consent", "nudge"]

__all__ = ["ActionOutcome", "ActionRunner", "Answerer", "Command", "ConversationLocks", "ConversationStore",
           "DomainDict", "EntityExtractor", "Evidence", "IntentScore", "Parser", "ProductCatalog", "Recommender",
           "ReplyStream", "Sentiment", "TrackerState", "Understanding", "UnderstandingSource"]


@dataclass(frozen=True)
class IntentScore:
    """One intent and how sure the NLU is of it (1.0 for a button payload)."""

    name: str | None
    confidence: float = 0.0


@dataclass(frozen=True)
class Sentiment:
    label: str
    score: float


@dataclass(frozen=True)
class Understanding:
    """Everything the policy needs to know about one message, computed once per turn.

    `source`: where the intent came from: a `/intent{...}` button `payload`, the `nlu` model, `none` (no model: only
    entities), or a `command` (`/restart`, `/consent{...}`) that is never parsed.
    """

    text: str
    source: UnderstandingSource
    intent: IntentScore = IntentScore(None, 0.0)
    ranking: tuple[IntentScore, ...] = ()
    entities: tuple[Mapping[str, Any], ...] = ()
    sentiment: Sentiment | None = None
    named_product: Product | None = None       # the catalog product this message names
    list_request: bool = False                 # "similar to ...", "goes with ...": a list, even when a product is named
    follow_up: bool = False                    # refines the last product list ("cheaper?", "in black?")
    product_filters: tuple[str, ...] = ()      # entities that constrain a product search (price, size, colour, ...)
    fills: Mapping[str, Any] = field(default_factory=dict)   # what it gives the active form's slots
    command: Command | None = None
    command_event: Mapping[str, Any] | None = None   # the consent event to record
    command_reply: str = ""
    parse_data: Mapping[str, Any] = field(default_factory=dict)   # stored with the user event (Rasa's parse shape)

    @property
    def intent_name(self) -> str | None:
        return self.intent.name

    def entity_values(self, entity: str) -> list[Any]:
        """The values of one entity, in the order the message gives them."""
        return [e.get("value") for e in self.entities if e.get("entity") == entity]


@dataclass(frozen=True)
class Evidence:
    """What the knowledge base holds for a message: its hits (best first), whether the best is close enough to answer
    from (`knows`), the best hit's kind (faq, policy, product) and whether product cards can be shown."""

    hits: tuple[SearchHit, ...] = ()
    knows: bool = False
    best_kind: str | None = None
    can_recommend: bool = False


class EntityExtractor(Protocol):
    def extract(self, text: str) -> list[dict[str, Any]]: ...


class Parser(Protocol):
    """The NLU: Rasa's parse shape (`intent`, `intent_ranking`, `entities`, `sentiment`)."""

    @property
    def extractor(self) -> EntityExtractor: ...
    async def parse_async(self, text: str) -> dict[str, Any]: ...


class Reply(Protocol):
    text: str
    sources: Sequence[str]


class ReplyStream(Protocol):
    """Chunks of a grounded reply; `reply` is set once the stream is exhausted."""

    reply: Any
    def __aiter__(self) -> AsyncIterator[str]: ...


class Answerer(Protocol):
    history_messages: int
    async def search_async(self, question: str) -> list[SearchHit]: ...
    def knows(self, hits: list[SearchHit]) -> bool: ...
    def answer(self, question: str, history: list[tuple[str, str]] | None = None,
               extra_sources: list[Any] | None = None, hits: list[SearchHit] | None = None) -> ReplyStream: ...


class ProductCatalog(Protocol):
    """A store's products by id (`kb.product`, `kb.products`) and by name, typo-tolerant (`resolve`)."""

    @property
    def kb(self) -> Any: ...
    def resolve(self, name: str) -> Product | None: ...


class Recommender(Protocol):
    @property
    def search(self) -> ProductCatalog: ...
    def follow_up_filters(self, text: str, previous: dict[str, Any]) -> tuple[Any, str] | None: ...


class ActionOutcome(Protocol):
    events: list[dict[str, Any]]
    responses: list[dict[str, Any]]


class ActionRunner(Protocol):
    """Runs a rasa-sdk action (in-process or on an action server) over the Rasa webhook protocol."""

    async def run(self, action: str, tracker: TrackerState, domain: DomainDict) -> ActionOutcome: ...
    async def close(self) -> None: ...


class ConversationLocks(Protocol):
    def hold(self, conversation_id: str) -> AbstractAsyncContextManager[None]: ...
    async def close(self) -> None: ...


class ConversationStore(Protocol):
    """The event log: a turn loads the current session and appends what it added, in one transaction."""

    async def load(self, conversation_id: str, message_id: str | None = None) -> list[dict[str, Any]]: ...
    async def load_all(self, conversation_id: str) -> list[dict[str, Any]]: ...
    async def append(self, conversation_id: str, new_events: list[dict[str, Any]], channel: str = "",
                     sender_id: str = "", handed_off: bool | None = None) -> None: ...
