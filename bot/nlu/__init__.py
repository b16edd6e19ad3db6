"""Natural-language understanding: intents, sentiment and entities of a shopper's message."""
