"""Dialogue: domain, tracker, policy, forms, action execution, conversation store and locks."""
