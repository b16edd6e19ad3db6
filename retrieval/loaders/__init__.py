"""Loaders for store data: catalog, FAQ, policies, shopping history, reviews and whole knowledge-base folders."""

from retrieval.loaders.catalog import CatalogMapping, load_catalog
from retrieval.loaders.errors import DataError, DataIssue
from retrieval.loaders.faq import load_faq
from retrieval.loaders.history import HistoryEvent, load_history
from retrieval.loaders.policies import load_policies
from retrieval.loaders.reviews import Review, load_reviews
from retrieval.loaders.store import Category, KnowledgeBase, load_knowledge_base

__all__ = ["CatalogMapping", "Category", "DataError", "DataIssue", "HistoryEvent", "KnowledgeBase", "load_catalog",
           "load_faq", "load_history", "load_knowledge_base", "load_policies", "Review", "load_reviews"]
