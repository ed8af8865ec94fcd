"""The access package: what the subject chose to see, the 열람내역서 that answers it, and how
long the package can be downloaded.

Pure: no clock, no database. PIPA art. 35(1), (3); Decree art. 41(1): the subject asks for any
of 1. the items and their content, 2. the purposes of collection and use, 3. the retention
period, 4. the provision to third parties, 5. the consent given to the processing; art. 4(3):
access includes a copy. Decree art. 42(1): withheld items are named with their ground.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from app.models.vocab import AccessScope as AccessScope
from app.policy import Policy
from app.policy.entries import DataItem, Service

ALL_SCOPES: tuple[AccessScope, ...] = tuple(AccessScope)

SCOPE_LABELS_KO: dict[AccessScope, str] = {
    AccessScope.ITEMS: "개인정보의 항목 및 내용",
    AccessScope.PURPOSES: "수집·이용의 목적",
    AccessScope.RETENTION: "보유 및 이용 기간",
    AccessScope.THIRD_PARTY: "제3자 제공 현황",
    AccessScope.CONSENT: "처리에 동의한 사실 및 내용",
}


def scope_of(stored: Sequence[str] | None) -> tuple[AccessScope, ...]:
    """Decree art. 41(1): the stored choice in the decree's order; none stored means all
    five (the default)."""
    if not stored:
        return ALL_SCOPES
    wanted = set(stored)
    return tuple(s for s in ALL_SCOPES if s.value in wanted)


# Decree art. 41(1)5, the consent facts, told by each item's legal basis (art. 15(1); the
# policy's reading, docs/decisions.md "Legal basis per item"): only consent-based items were
# agreed to, and only they end with a withdrawal; contract and statute items say why they are
# processed without consent, so the statement promises nothing a withdrawal would not do.
_CONSENT_BY_BASIS = {
    "consent": "{context} 때 선택항목으로 수집·이용에 동의하신 경우에만 처리합니다({article}). "
    "동의는 언제든지 철회하실 수 있습니다.",
    "contract": "동의가 아니라 서비스 이용계약의 체결·이행을 위해 처리합니다({article}).",
    "statute": "동의가 아니라 법령에 따른 의무로 보존합니다({article}).",
}


@dataclass(frozen=True)
class StatementItem:
    code: str
    name: str
    files: tuple[str, ...] = ()  # where its content is: the package's file names
    purposes: tuple[str, ...] = ()
    retention: tuple[str, ...] = ()
    third_party: str = ""
    consent: str = ""


@dataclass(frozen=True)
class WithheldItem:
    code: str
    name: str
    grounds: tuple[str, ...]  # "법 제35조제4항제2호: ..." as the notice names them


@dataclass(frozen=True)
class Statement:
    """열람내역서: the granted items answering the subject's scope, and what was withheld."""

    controller: str
    service: str
    reference: str
    scope: tuple[AccessScope, ...]
    items: tuple[StatementItem, ...]
    withheld: tuple[WithheldItem, ...] = ()
    files: tuple[tuple[str, str], ...] = ()  # (file name, holder name)
    notes: tuple[str, ...] = field(default_factory=tuple)


def build_statement(
    policy: Policy,
    *,
    service_code: str,
    reference: str,
    scope: Sequence[AccessScope],
    granted: Sequence[str],
    withheld: Sequence[tuple[str, Sequence[str]]],
    files_by_holder: Mapping[str, Sequence[str]],
    holder_names: Mapping[str, str],
) -> Statement:
    """Decree art. 41(1): each granted item with the parts of the subject's scope, all from the
    policy; the item's content is in the files of the holders that hold it."""
    service = policy.service(service_code)
    assert service is not None
    provision = _third_party_text(policy)
    items = []
    for code in granted:
        item = service.item(code)
        # Art. 28-7: 가명정보 is not subject to access, so it is never listed as disclosed.
        if item is None or item.pseudonymized:
            continue
        holders = [h.code for h in service.holders if h.holds(code) and not h.pseudonymized]
        items.append(
            StatementItem(
                code=code,
                name=_item_name(item),
                files=tuple(f for h in holders for f in files_by_holder.get(h, ())),
                purposes=_purposes(policy, item),
                retention=_retention(policy, item),
                third_party=provision,
                consent=_consent(service, item),
            )
        )
    return Statement(
        controller=policy.controller.signed_as,
        service=service.name,
        reference=reference,
        scope=tuple(scope),
        items=tuple(items),
        withheld=tuple(
            WithheldItem(code, _name(service, code), tuple(grounds)) for code, grounds in withheld
        ),
        files=tuple(
            (name, holder_names.get(h, h)) for h, names in files_by_holder.items() for name in names
        ),
    )


def _name(service: Service, code: str) -> str:
    item = service.item(code)
    return _item_name(item) if item else code


def _item_name(item: DataItem) -> str:
    return f"{item.name}({', '.join(item.components)})" if item.components else item.name


def _purposes(policy: Policy, item: DataItem) -> tuple[str, ...]:
    found = (policy.purpose(code) for code in item.purposes)
    return tuple(f"{p.name}: {p.description}" for p in found if p is not None)


def _retention(policy: Policy, item: DataItem) -> tuple[str, ...]:
    lines = []
    for code in item.retention:
        rule = policy.retention_rule(code)
        if rule is None:
            continue
        law = f" (「{rule.statute}」에 따른 보존)" if rule.statutory and rule.statute else ""
        lines.append(f"{rule.name}: {rule.period}{law}")
        lines += [f"다만, {e.text}" for e in rule.exceptions]
    return tuple(lines)


def _third_party_text(policy: Policy) -> str:
    """Art. 17, 18: Carelabs provides none unless the policy lists a recipient."""
    recipients = policy.third_party_provision.recipients
    if not recipients:
        return "제3자에게 제공한 내역이 없습니다. " + policy.third_party_provision.note
    return "; ".join(
        f"{r.name} (목적: {r.purpose}, 항목: {r.items}, 보유기간: {r.retention})"
        for r in recipients
    )


def _consent(service: Service, item: DataItem) -> str:
    context = next((c.name for c in service.contexts if c.code == item.context), "수집")
    return _CONSENT_BY_BASIS[item.basis].format(context=context, article=item.basis_article)


# --- the package's life ------------------------------------------------------------------------

PackageState = Literal["assembling", "released", "expired"]


def expires_at(released_at: datetime, days: int) -> datetime:
    """ACCESS_PACKAGE_DAYS after release: long enough to download, not kept for ever."""
    return released_at + timedelta(days=days)


def package_state(
    released_at: datetime | None, expires: datetime | None, now: datetime
) -> PackageState:
    if released_at is None or expires is None:
        return "assembling"
    return "expired" if now >= expires else "released"


def zip_entry_name(holder_code: str, index: int, filename: str | None, extension: str) -> str:
    """`<holder>/<n>-<name>`: unique in the ZIP, grouped by holder, never a path outside it."""
    base = (filename or f"extract.{extension}").replace("\\", "/").rsplit("/", 1)[-1]
    base = base.lstrip(".") or f"extract.{extension}"
    if not base.lower().endswith(f".{extension}"):
        base = f"{base}.{extension}"
    return f"{holder_code}/{index:02d}-{base}"


def holders_missing(expected: Iterable[str], uploaded: Iterable[str]) -> list[str]:
    have = set(uploaded)
    return [h for h in expected if h not in have]
