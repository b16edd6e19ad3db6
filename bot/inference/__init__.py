"""Running the encoder models of many conversations at once (NLU parses, query embeddings): micro-batching
off the event loop. Replies are written by the engines of `bot.generation`."""
