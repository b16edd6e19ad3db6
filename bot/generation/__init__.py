"""Text generation engines behind one interface (`base.TextGenerator`), chosen by `responder.engine`."""
