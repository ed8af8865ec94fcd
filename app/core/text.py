"""Canonical forms of names and phone numbers: what counts as the same value when a blind
index is computed or two names are compared (pure; no keys)."""

from __future__ import annotations

import unicodedata


def normalize(value: str) -> str:
    """Canonical form used for the blind index and for comparing names."""
    return " ".join(unicodedata.normalize("NFC", value).split()).casefold()


def normalize_phone(value: str) -> str:
    digits = "".join(ch for ch in value if ch.isdigit())
    # +82 10-... and 010-... are the same Korean mobile number.
    if digits.startswith("82") and len(digits) >= 11:
        digits = "0" + digits[2:]
    return digits
