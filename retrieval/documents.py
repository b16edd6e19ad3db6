"""The records retrieval works on: products, FAQ entries, policy sections, and the passages built from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

PassageKind = Literal["faq", "policy", "product"]
ViewRole = Literal["question", "content"]
VIEW_ROLES: tuple[ViewRole, ...] = ("question", "content")
PASSAGE_KINDS: tuple[PassageKind, ...] = ("faq", "policy", "product")


@dataclass(frozen=True)
class Product:
    """One catalog item. `attributes` holds free-form facts (colors, sizes, material, ...)."""

    id: str
    title: str
    brand: str
    category: str
    price: float
    currency: str = "USD"
    description: str = ""
    subcategory: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    stock: int | None = None
    rating: float | None = None
    review_count: int | None = None
    image: str = ""
    url: str = ""
    tags: tuple[str, ...] = ()
    final_sale: bool = False

    @property
    def in_stock(self) -> bool:
        """Known to be in stock (a positive count); a catalog without stock says nothing, so unknown is not in stock."""
        return self.stock is not None and self.stock > 0

    @property
    def out_of_stock(self) -> bool:
        """Known to be out of stock (a count of 0)."""
        return self.stock is not None and self.stock <= 0

    @property
    def availability(self) -> str:
        """"in stock", "out of stock" or "stock unknown"."""
        return "in stock" if self.in_stock else "out of stock" if self.out_of_stock else "stock unknown"

    @property
    def colors(self) -> tuple[str, ...]:
        return tuple(str(c).lower() for c in _as_list(self.attributes.get("colors") or self.attributes.get("color")))

    @property
    def sizes(self) -> tuple[str, ...]:
        return tuple(str(s) for s in _as_list(self.attributes.get("sizes") or self.attributes.get("size")))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "brand": self.brand, "category": self.category,
            "subcategory": self.subcategory, "price": self.price, "currency": self.currency,
            "description": self.description, "attributes": dict(self.attributes), "stock": self.stock,
            "rating": self.rating, "review_count": self.review_count, "image": self.image, "url": self.url,
            "tags": list(self.tags), "final_sale": self.final_sale,
        }


@dataclass(frozen=True)
class FaqEntry:
    """A question and its answer, as the store wrote them."""

    id: str
    question: str
    answer: str
    topic: str = ""
    alternates: tuple[str, ...] = ()  # other ways shoppers ask the same question (optional)


@dataclass(frozen=True)
class PolicySection:
    """One level-2 section of a policy document (the retrieval chunk for policies)."""

    id: str          # "returns#return-window"
    document: str    # "Returns, Refunds and Exchanges"
    heading: str     # "Return window"
    text: str


@dataclass(frozen=True)
class Passage:
    """A retrievable unit with a stable source id such as `faq:return-window` or `product:P1001`."""

    id: str
    kind: PassageKind
    title: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def source_id(self) -> str:
        """The id without its kind prefix (the FAQ id, policy section or product id)."""
        return self.id.split(":", 1)[1]

    def index_text(self) -> str:
        """The text that is keyword-indexed: title, alternate questions and body."""
        head = "\n".join([self.title, *self.metadata.get("alternates", ())]).strip()
        return f"{head}\n{self.text}" if head else self.text

    def embedding_views(self) -> list[tuple[ViewRole, str]]:
        """(role, text) pairs embedded for this passage.

        A passage's similarity to a query is the mean over roles of its best view in that role. FAQ entries
        have "question" views (the question and its alternates: shoppers paraphrase questions) and a
        "content" view (question and answer); other passages have the content view only.
        """
        content = f"{self.title}\n{self.text}" if self.title else self.text
        if self.kind == "faq":
            questions = [self.title, *self.metadata.get("alternates", ())]
            return [("question", q) for q in questions] + [("content", content)]
        return [("content", content)]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "title": self.title, "text": self.text, "metadata": self.metadata}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Passage:
        return cls(id=data["id"], kind=data["kind"], title=data["title"], text=data["text"],
                   metadata=data.get("metadata") or {})


@dataclass(frozen=True)
class SearchHit:
    """A passage with its fused score and the rank it got from each retriever (None: not retrieved)."""

    passage: Passage
    score: float
    dense_rank: int | None = None
    keyword_rank: int | None = None
    similarity: float | None = None  # cosine similarity of the best embedded view, when dense retrieval found it

    @property
    def id(self) -> str:
        return self.passage.id

    @property
    def kind(self) -> PassageKind:
        return self.passage.kind


def faq_passage(entry: FaqEntry) -> Passage:
    metadata: dict[str, Any] = {"topic": entry.topic}
    if entry.alternates:
        metadata["alternates"] = list(entry.alternates)
    return Passage(id=f"faq:{entry.id}", kind="faq", title=entry.question, text=entry.answer, metadata=metadata)


def policy_passage(section: PolicySection) -> Passage:
    return Passage(
        id=f"policy:{section.id}", kind="policy", title=f"{section.document}: {section.heading}",
        text=section.text, metadata={"document": section.document, "heading": section.heading},
    )


def product_passage(product: Product) -> Passage:
    attrs = product.attributes
    facts = [f"Brand: {product.brand}.", f"Category: {product.category}" + (f", {product.subcategory}." if product.subcategory else ".")]
    if product.colors:
        facts.append("Colors: " + ", ".join(product.colors) + ".")
    if attrs.get("material"):
        facts.append(f"Material: {attrs['material']}.")
    if product.tags:
        facts.append("Tags: " + ", ".join(product.tags) + ".")
    text = " ".join([product.description, *facts]).strip()
    return Passage(
        id=f"product:{product.id}", kind="product", title=product.title, text=text,
        metadata={"price": product.price, "currency": product.currency, "brand": product.brand,
                  "category": product.category, "in_stock": product.in_stock},
    )


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]
