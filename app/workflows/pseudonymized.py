"""Pseudonymized data (가명정보): PIPA art. 28-7 says arts. 35, 35-2, 36 and 37 (access,
transmission, correction, deletion, suspension, and with art. 37 the withdrawal of consent) do
not apply to it.

Pure. The policy marks an item (`pseudonymized = true`: the item is kept only as 가명정보) or a
holder (it keeps what it holds only as 가명정보). Such items and holders are left out of what a
decision accounts for and of every task; the result notice says so and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from app.policy import Service

# Art. 28-7 names arts. 35, 35-2, 36 and 37 (with art. 37 the withdrawal of consent).
EXCLUDED_TYPES = frozenset(
    {"access", "transmission", "correction", "deletion", "suspension", "consent_withdrawal"}
)


def in_scope(codes: Iterable[str], service: Service) -> list[str]:
    """The codes the rights reach: every one but the pseudonymized items (art. 28-7)."""
    return [c for c in codes if not ((item := service.item(c)) and item.pseudonymized)]


def excluded_items(request_type: str, named: Sequence[str], service: Service) -> list[str]:
    """The pseudonymized items a request asked about (every one of the service when it named
    none), which the result notice says were left out under art. 28-7."""
    if request_type not in EXCLUDED_TYPES:
        return []
    asked = list(named) or [i.code for i in service.items]
    return [c for c in asked if (item := service.item(c)) and item.pseudonymized]


def excluded_holders(request_type: str, named: Sequence[str], service: Service) -> list[str]:
    """The pseudonymized holders of what the request asked about (codes, in file order)."""
    if request_type not in EXCLUDED_TYPES:
        return []
    asked = set(named) or {i.code for i in service.items}
    return [
        h.code for h in service.holders if h.pseudonymized and any(h.holds(code) for code in asked)
    ]
