"""Which items a deletion or consent withdrawal destroys now, and which the law makes us keep.

Pure functions: no clock, no files, no database. `today` and the dates on which the records were
made (entered by staff) are arguments; the retention rules come from the policy (app.policy).

- Art. 36(1) proviso: deletion cannot be demanded where another statute names the data as a
  collection object; art. 37(3) proviso (with 37(2)1) lets a consent withdrawal go unexecuted
  for the same reason. Those items are kept, the rest destroyed without delay (arts. 36(3),
  37(3): so that they cannot be restored or replayed).
- Only a statutory rule (`RetentionRule.statutory`) holds an item. Consent- or policy-based
  rules (until membership withdrawal, inquiries 3 months) end with the request itself.
- A statutory period is counted from the day the record was made, the way the Civil Act counts
  months and years (민법 제155조, 제157조, 제160조): the day the record was made is not
  counted, and the period ends on the day before the corresponding day of the last month; when
  that month has no corresponding day, on its last day. For a record made on 2025-11-20 a
  5-year period ends on 2030-11-20, for one made on 2026-08-31 a 6-month period on 2027-02-28.
  The period expires at the end of its last day (민법 제159조), so the item is kept through
  `keep_until` and destroyed from the next day.
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from app.policy import DataItem, Policy, RetentionRule, Service

Action = Literal["delete", "keep"]

REASON_DELETE = "지체 없이 복구·재생할 수 없도록 파기합니다."


@dataclass(frozen=True)
class ItemPlan:
    item: str  # item code
    item_name: str  # the policy's Korean name
    action: Action
    keep_until: date | None  # last day of the statutory period; None when deleted now
    rule: str | None  # retention rule that holds the item; None when deleted now
    statute: str | None  # as the policy names it, e.g. 전자상거래 등에서의 소비자 보호에 관한 법률
    article: str | None  # the statute's provision imposing the duty (art. 21(1) proviso)
    record: str | None  # the kind of record, in the policy's words (the rule's name)
    reason_ko: str  # one sentence for the subject's notice (art. 36(4), 37(4))


class RecordDateMissing(ValueError):
    """A statutory rule holds a requested item, but staff have not said when the record was made
    (or that there is no such record for this subject)."""

    def __init__(self, rule: str, item: str) -> None:
        super().__init__(
            f"item {item!r}: retention rule {rule!r} is statutory; enter the date the record was"
            " made, or None if there is no such record"
        )
        self.rule = rule
        self.item = item


def add_months_civil(start: date, months: int) -> date:
    """Last day of a period of `months` months counted from `start` (민법 제157조, 제160조).

    The day `start` is not counted (art. 157); the period ends the day before the corresponding
    day of the last month (art. 160(2)), or on that month's last day when it has no such day
    (art. 160(3)). This is `start` + `months`, clamped to the month end, except for a `start`
    on the last day of a month: then counting begins on the 1st and whole calendar months run
    (art. 160(1)), e.g. 2026-04-30 + 6 months ends on 2026-10-31, not 2026-10-30.
    """
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    first = start + timedelta(days=1)  # art. 157: the day of the record is not counted
    index = first.year * 12 + first.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last_day = calendar.monthrange(year, month)[1]
    if first.day > last_day:  # art. 160(3): no corresponding day
        return date(year, month, last_day)
    return date(year, month, first.day) - timedelta(days=1)  # art. 160(2)


def plan_deletion(
    items: Sequence[str],
    service: Service,
    policy: Policy,
    record_dates: Mapping[str, date | None],
    today: date,
) -> list[ItemPlan]:
    """One plan per requested item (duplicates collapsed, request order kept).

    `record_dates` maps a statutory rule code to the date its record was made for this subject
    (e.g. the payment date), or to None when the subject has no such record. A rule that holds a
    requested item and is absent from the mapping raises RecordDateMissing; an unknown item
    raises ValueError naming it. The same date serves every requested item under that rule.
    """
    plans: list[ItemPlan] = []
    for code in dict.fromkeys(items):
        item = service.item(code)
        if item is None:
            raise ValueError(f"unknown item {code!r} for service {service.code!r}")
        plans.append(_plan_item(item, _rules(item, policy), record_dates, today))
    return plans


def missing_record_dates(
    items: Sequence[str],
    service: Service,
    policy: Policy,
    record_dates: Mapping[str, date | None],
) -> dict[str, list[str]]:
    """Every statutory rule holding one of `items` that `record_dates` does not answer, with
    the items it holds (in request order), so staff are asked for all of them at once."""
    missing: dict[str, list[str]] = {}
    for code in dict.fromkeys(items):
        item = service.item(code)
        if item is None:
            continue
        for rule in _rules(item, policy):
            if rule.statutory and rule.code not in record_dates:
                missing.setdefault(rule.code, []).append(item.code)
    return missing


def _rules(item: DataItem, policy: Policy) -> list[RetentionRule]:
    rules = []
    for code in item.retention:
        rule = policy.retention_rule(code)
        if rule is None:  # Policy validation prevents this; fail loudly all the same.
            raise ValueError(f"item {item.code!r} refers to unknown retention rule {code!r}")
        rules.append(rule)
    return rules


def _plan_item(
    item: DataItem,
    rules: Iterable[RetentionRule],
    record_dates: Mapping[str, date | None],
    today: date,
) -> ItemPlan:
    held: tuple[date, RetentionRule] | None = None
    for rule in rules:
        # Art. 36(1) proviso / 37(3) proviso: only another statute can hold the item.
        if not rule.statutory:
            continue
        months = rule.duration_months
        if months is None:
            # A statutory duty until an event cannot be dated here; deleting would risk
            # breaking it, so the policy must give a fixed period.
            raise ValueError(
                f"retention rule {rule.code!r} is statutory but has no fixed period;"
                f" cannot plan item {item.code!r}"
            )
        if rule.code not in record_dates:
            raise RecordDateMissing(rule.code, item.code)
        made_on = record_dates[rule.code]
        if made_on is None:  # no such record for this subject
            continue
        if made_on > today:
            raise ValueError(
                f"retention rule {rule.code!r}: record date {made_on} is after today ({today})"
            )
        until = add_months_civil(made_on, months)
        # 민법 제159조: the period runs to the end of `until`, so the item is kept that day too.
        # Several statutory rules: the latest date wins (first rule listed on a tie).
        if until >= today and (held is None or until > held[0]):
            held = (until, rule)
    if held is None:
        # Arts. 36(3), 37(3): destroyed so that it cannot be restored or replayed.
        return ItemPlan(item.code, item.name, "delete", None, None, None, None, None, REASON_DELETE)
    until, rule = held
    # Art. 21(1) proviso and 21(3): data kept under another statute is stored separately from
    # other personal data and used only for that statute's purpose, then destroyed.
    return ItemPlan(
        item=item.code,
        item_name=item.name,
        action="keep",
        keep_until=until,
        rule=rule.code,
        statute=rule.statute,
        article=rule.article,
        record=rule.name,
        reason_ko=_keep_reason(rule.statute, rule.article, until),
    )


def statute_citation(statute: str | None, article: str | None) -> str:
    """「법률명」 제N조…: the statute and its provision, as a notice cites them."""
    name = (statute or "관계 법령").strip("「」")
    return f"「{name}」 {article}" if article else f"「{name}」"


def _keep_reason(statute: str | None, article: str | None, until: date) -> str:
    # Art. 21(1) proviso: another statute's duty to keep; art. 21(3): stored separately.
    return (
        f"{statute_citation(statute, article)}에 따라 보존해야 하는 정보이므로"
        " 「개인정보 보호법」 제21조제1항 단서에 따라 파기하지 않고,"
        f" 같은 조 제3항에 따라 다른 개인정보와 분리하여 {until.year}년 {until.month}월"
        f" {until.day}일까지 보관한 뒤 파기합니다."
    )


def retention_summary(plans: Iterable[ItemPlan]) -> dict[str, Any]:
    """Counts for a timeline event: codes and dates only, no personal data."""
    plans = list(plans)
    kept = [p for p in plans if p.action == "keep"]
    latest = max((p.keep_until for p in kept if p.keep_until is not None), default=None)
    return {
        "items": len(plans),
        "delete": len(plans) - len(kept),
        "keep": len(kept),
        "keep_until_latest": latest.isoformat() if latest else None,
        "kept_by_rule": dict(sorted(Counter(p.rule for p in kept if p.rule).items())),
    }


# --- consent withdrawal (art. 37(1), (3)) --------------------------------------------------------

BASIS_LABELS_KO = {
    "consent": "동의를 받아 처리하는 정보",
    "contract": "서비스 이용계약의 이행에 필요해 처리하는 정보",
    "statute": "법령에 따라 만들고 보존해야 하는 정보",
}

# Art. 37(3) proviso: withdrawal is left unexecuted on an art. 37(2) ground. An item the
# withdrawal does not reach is kept on the ground that fits its basis: a statutory duty
# (37(2)1) or the contract the subject has not ended (37(2)4).
WITHDRAWAL_HOLD_GROUND = {"statute": "37-2-1", "contract": "37-2-4"}
STATUTORY_HOLD_GROUND = "37-2-1"


def consent_items(service: Service) -> list[str]:
    """What a withdrawal naming no items reaches: every consent-based item, never every item."""
    return [i.code for i in service.items if i.basis == "consent"]


def not_reached(items: Sequence[str], service: Service) -> list[DataItem]:
    """The items among `items` that a consent withdrawal does not reach (art. 15(1)2, 4)."""
    found = (service.item(code) for code in dict.fromkeys(items))
    return [i for i in found if i is not None and i.basis != "consent"]


def basis_reason(item: DataItem) -> str:
    """Why a withdrawal leaves the item: its basis, with the provision."""
    return f"{BASIS_LABELS_KO[item.basis]}로, 동의 철회의 대상이 아닙니다({item.basis_article})."


def plan_withdrawal(
    items: Sequence[str],
    service: Service,
    policy: Policy,
    record_dates: Mapping[str, date | None],
    today: date,
) -> list[ItemPlan]:
    """The retention plan of a withdrawal: the consent-based items among `items` planned as a
    deletion is (destroyed, or kept and separated under a statute: art. 21(1) proviso, (3))."""
    reached = [code for code in dict.fromkeys(items) if code in consent_items(service)]
    return plan_deletion(reached, service, policy, record_dates, today)
