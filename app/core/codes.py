"""References and access codes: random, unambiguous to read aloud, and normalised on input."""

from __future__ import annotations

import secrets
import unicodedata
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


def _as_typed(text: str) -> str:
    """The characters a person meant: full-width forms folded (NFKC), upper case, letters and
    digits only (hyphens and spaces of any kind dropped), O, I and L read as 0 and 1."""
    folded = unicodedata.normalize("NFKC", text).upper()
    return "".join(ch for ch in folded if ch.isascii() and ch.isalnum()).translate(_READ_AS)


def canonical_code(code: str) -> str:
    """Accept lower case, spaces, missing hyphens and O/I/L typed for 0/1."""
    raw = _as_typed(code)
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def canonical_reference(reference: str) -> str:
    """The reference the way the access code is accepted (`_as_typed`), hyphens put back as in
    DSR-YYMM-XXXXXXXX. One spelling per reference: lookups, the access-code lock and the
    per-reference rate limit all key on it."""
    raw = _as_typed(reference)
    if not raw.startswith("DSR"):
        return raw
    return "-".join(part for part in (raw[:3], raw[3:7], raw[7:]) if part)
