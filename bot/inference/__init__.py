"""Running the models for many conversations at once: micro-batching (NLU, embeddings) and continuous batching of
generation, off the event loop."""
