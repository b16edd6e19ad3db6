"""Web pages and the chat widget: the demo storefront (`/`), `/widget.js`, and the agent console (`/agent`)."""
