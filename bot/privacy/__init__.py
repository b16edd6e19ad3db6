"""Shoppers' privacy: consent per conversation, export and erasure by email, retention, and redacted transcripts.

Modules (imported one by one: `bot.dialogue.store` imports `redaction`, so this package imports nothing itself):
`consent` (consent events and what they allow), `redaction` (what a stored event may contain), `shopper` (find,
export and erase everything naming one email), `retention` (the purge job), `logfile` (the JSON log file).
"""
