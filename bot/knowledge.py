"""Opens a store for the bot: its knowledge base, embedder, index and product search, through the one factory the
actions use too (`retrieval.store`), so the bot and any action server search the same way."""

from __future__ import annotations

from retrieval.store import StoreKnowledge, index_folder, open_store, store_recommender

__all__ = ["StoreKnowledge", "index_folder", "open_store", "store_recommender"]
