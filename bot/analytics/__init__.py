"""The store owner's side of the conversations: what the bot resolved, where it handed off and why, what shoppers
thought of it (CSAT), which intents came when, and the questions it could not answer, clustered by meaning.

- `chats`: the conversation store's events as chats (one session each) and turns, nothing else read;
- `figures`: the figures of a set of chats (every one can be recounted from the raw events);
- `clusters`: the unanswered questions grouped by meaning, each with a suggested FAQ entry (never an answer);
- `charts`: the figures drawn as inline SVG (no script, no network);
- `report`: all of it for `/admin` and `shopbot report`;
- `feedback`: the thumbs up/down a shopper gives at the end of a chat, stored in the conversation's log;
- `admin`: the token-protected `/admin` page and its API.
"""
