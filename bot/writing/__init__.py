"""Drafts for the store owner: product descriptions and campaign messages, every sentence traced to a fact."""
