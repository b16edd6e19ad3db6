"""The verification ledger's strikes for one email (`actions.ledger`), as `ShopperRecords` for export and erasure.

The ledger keeps no email, only a keyed hash of it (the same key the identity checks count under); erasing it
removes that email's strikes, so a lock-out on the email ends with the erasure. Strikes on the conversation and
the client address stay (they name no shopper).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

FOREVER = 10 ** 10   # seconds: every strike the ledger still holds


class LedgerRecords:
    """Export and erase one email's strikes in a `StrikeLedger` (SQLite file or Redis)."""

    name = "verification_ledger"

    def __init__(self, ledger: Any):
        self.ledger = ledger

    def key(self, email: str) -> str:
        """The ledger key of an email: what `actions.verification.guard_keys` counts a check under (a test checks
        the two agree)."""
        from actions.store_backend import canonical_text

        message = ("email\x00" + canonical_text(email)).encode("utf-8", "surrogatepass")
        return "email:" + hmac.new(self.ledger.secret(), message, hashlib.sha256).hexdigest()[:40]

    def export(self, email: str) -> list[dict[str, Any]]:
        from actions.ledger import Limit

        key = self.key(email)
        count = self.ledger.counts({key: Limit(FOREVER, FOREVER)})[key]
        return [{"key": key, "failed_checks": count}] if count else []

    def erase(self, email: str) -> int:
        key = self.key(email)
        forget = getattr(self.ledger, "forget", None)
        if forget is not None:
            return int(forget([key]))
        if hasattr(self.ledger, "_transaction"):   # SqliteLedger
            with self.ledger._transaction() as db:
                return db.execute("DELETE FROM strikes WHERE key = ?", (key,)).rowcount
        return int(self.ledger._redis.delete(self.ledger.prefix + key))   # RedisLedger: one sorted set a key
