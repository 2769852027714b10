"""The one rule for a currency code, as contracts/libraries/CurrencyCode.sol states it: three
upper-case ASCII letters A-Z (ISO 4217's alphabetic codes). The client checks it before sending
and the audit re-checks every code the contracts accepted."""

from __future__ import annotations


def is_currency_code(code: bytes) -> bool:
    """Whether `code` is exactly three bytes, each in b"A"..b"Z"."""
    return len(code) == 3 and all(0x41 <= c <= 0x5A for c in code)
