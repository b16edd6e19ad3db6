"""Grounded, cited, streamed replies: the causal LM, prompts, the grounding guard, recommendations."""
