"""References and access codes: random, unambiguous to read aloud, and normalised on input."""

from __future__ import annotations

import secrets
from datetime import date

# Crockford base32: no I, L, O or U, so a person cannot misread one for another.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def _random(n: int) -> str:
    """n characters, 5 random bits each (the alphabet has 32)."""
    bits = secrets.randbits(5 * n)
    return "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(n))


def new_reference(received_on: date) -> str:
    """DSR-YYMM-XXXXXXXX: 40 random bits; the access code, not the reference, is the secret."""
    return f"DSR-{received_on:%y%m}-{_random(8)}"


def new_access_code() -> str:
    """12 characters (60 random bits), grouped in fours for reading: e.g. 7K3Q-X9AB-M2PD."""
    raw = _random(12)
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


def canonical_code(code: str) -> str:
    """Accept lower case, spaces, missing hyphens and O/I/L typed for 0/1."""
    raw = "".join(ch for ch in code.upper() if ch.isalnum()).translate(_READ_AS)
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def canonical_reference(reference: str) -> str:
    return reference.strip().upper()
