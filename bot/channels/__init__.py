"""Channels: the ways shoppers and developers reach the bot (terminal now; web, messaging later)."""
