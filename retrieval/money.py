"""Prices in the words a reply uses, in the product's own currency: `money(91.99, "EUR")` is "€91.99", an unknown
currency "91.99 CHF" (never "$" for what is not dollars). The widget formats card prices itself (Intl.NumberFormat)."""

from __future__ import annotations

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$", "NZD": "NZ$", "INR": "₹"}
NO_DECIMALS = frozenset({"JPY", "KRW"})


def money(amount: float, currency: str = "USD", whole: bool = False) -> str:
    """`amount` with its currency's symbol in front when it has a common one, else followed by its ISO code;
    `whole` drops ".00" from a whole amount ("under $100", "free over €75")."""
    code = (currency or "USD").upper()
    drop_cents = code in NO_DECIMALS or (whole and float(amount).is_integer())
    number = f"{amount:,.0f}" if drop_cents else f"{amount:,.2f}"
    symbol = SYMBOLS.get(code)
    return f"{symbol}{number}" if symbol else f"{number} {code}"
