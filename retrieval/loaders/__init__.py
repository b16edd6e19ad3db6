"""Loaders for store data: catalog, FAQ, policies and whole knowledge-base folders."""

from retrieval.loaders.catalog import CatalogMapping, load_catalog
from retrieval.loaders.errors import DataError, DataIssue
from retrieval.loaders.faq import load_faq
from retrieval.loaders.policies import load_policies
from retrieval.loaders.store import Category, KnowledgeBase, load_knowledge_base

__all__ = ["CatalogMapping", "Category", "DataError", "DataIssue", "KnowledgeBase", "load_catalog", "load_faq",
           "load_knowledge_base", "load_policies"]
