"""Deletion and consent-withdrawal plans: what is destroyed now and what another statute keeps
(PIPA arts. 36(1) proviso, 37(3) proviso, 21(1) proviso and 21(3)), against the shipped policy."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from app.policy import DEFAULT_POLICY_FILE, Policy, RetentionRule, Service, load_policy
from app.workflows.retention import (
    REASON_DELETE,
    ItemPlan,
    RecordDateMissing,
    add_months_civil,
    plan_deletion,
    retention_summary,
)

ECOMMERCE_ACT = "전자상거래 등에서의 소비자 보호에 관한 법률"
TODAY = date(2026, 12, 15)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(DEFAULT_POLICY_FILE)


def service(policy: Policy, code: str) -> Service:
    found = policy.service(code)
    assert found is not None
    return found


def one(
    policy: Policy,
    item: str,
    record_dates: dict[str, date | None],
    today: date = TODAY,
    service_code: str = "smartcrm",
) -> ItemPlan:
    (plan,) = plan_deletion([item], service(policy, service_code), policy, record_dates, today)
    return plan


# ---------------------------------------------------------------------------------------------
# The acceptance case


def test_payment_record_is_kept_under_the_ecommerce_act_and_the_inquiry_deleted(
    policy: Policy,
) -> None:
    plans = plan_deletion(
        ["contract_payment_records", "inquiry_contact"],
        service(policy, "smartcrm"),
        policy,
        {"ecommerce_contract": date(2025, 11, 20), "ecommerce_advertising": None},
        TODAY,
    )
    assert [p.item for p in plans] == ["contract_payment_records", "inquiry_contact"]
    kept, inquiry = plans

    assert kept.action == "keep"
    assert kept.item_name == "계약·청약철회·대금결제·재화 등의 공급 기록"
    assert kept.keep_until == date(2030, 11, 20)
    assert kept.rule == "ecommerce_contract"
    assert kept.statute == ECOMMERCE_ACT
    assert kept.record == "계약 또는 청약철회, 대금결제, 재화 등의 공급기록"
    assert f"「{ECOMMERCE_ACT}」" in kept.reason_ko
    assert "2030년 11월 20일" in kept.reason_ko
    assert kept.reason_ko == (
        f"「{ECOMMERCE_ACT}」 제6조제1항, 같은 법 시행령 제6조제1항제2호·제3호에 따라"
        " 보존해야 하는 정보이므로 「개인정보 보호법」 제21조제1항 단서에 따라 파기하지 않고,"
        " 같은 조 제3항에 따라 다른 개인정보와 분리하여 2030년 11월 20일까지 보관한 뒤"
        " 파기합니다."
    )

    # The inquiry (3 months from collection) is consent-based: the request ends it at once,
    # even though it was collected only last week.
    assert inquiry == ItemPlan(
        item="inquiry_contact",
        item_name="연락처",
        action="delete",
        keep_until=None,
        rule=None,
        statute=None,
        article=None,
        record=None,
        reason_ko="지체 없이 복구·재생할 수 없도록 파기합니다.",
    )


# ---------------------------------------------------------------------------------------------
# Record dates


def test_record_older_than_its_period_is_deleted(policy: Policy) -> None:
    plan = one(
        policy,
        "contract_payment_records",
        {"ecommerce_contract": date(2020, 1, 10), "ecommerce_advertising": None},
    )
    assert (plan.action, plan.keep_until, plan.rule) == ("delete", None, None)
    assert plan.reason_ko == REASON_DELETE


def test_no_such_record_means_delete(policy: Policy) -> None:
    plan = one(policy, "complaint_records", {"ecommerce_complaint": None})
    assert (plan.action, plan.keep_until, plan.statute) == ("delete", None, None)


def test_missing_record_date_names_rule_and_item(policy: Policy) -> None:
    with pytest.raises(RecordDateMissing, match="ecommerce_contract") as info:
        # A date for another rule does not count.
        one(policy, "contract_payment_records", {"ecommerce_complaint": date(2025, 1, 1)})
    assert info.value.rule == "ecommerce_contract"
    assert info.value.item == "contract_payment_records"
    assert isinstance(info.value, ValueError)


def test_no_record_date_needed_when_no_statutory_rule_applies(policy: Policy) -> None:
    plans = plan_deletion(
        ["manager_phone", "gender", "inquiry_contact"],
        service(policy, "smartcrm"),
        policy,
        {},
        TODAY,
    )
    assert [p.action for p in plans] == ["delete", "delete", "delete"]


def test_record_date_after_today_is_rejected(policy: Policy) -> None:
    with pytest.raises(ValueError, match="after today"):
        one(policy, "contract_payment_records", {"ecommerce_contract": date(2026, 12, 16)})


# ---------------------------------------------------------------------------------------------
# Counting the period (민법 제157조, 제159조, 제160조)


def test_six_month_period_from_a_month_end_ends_on_the_last_day_of_february(
    policy: Policy,
) -> None:
    assert add_months_civil(date(2026, 8, 31), 6) == date(2027, 2, 28)
    # The shipped 6-month rule (표시·광고) on an item, through the planner.
    plan = plan_deletion(
        ["contract_payment_records"],
        _with_retention(policy, "contract_payment_records", ("ecommerce_advertising",)),
        policy,
        {"ecommerce_advertising": date(2026, 8, 31)},
        date(2027, 1, 5),
    )[0]
    assert (plan.action, plan.keep_until, plan.rule) == (
        "keep",
        date(2027, 2, 28),
        "ecommerce_advertising",
    )
    assert "2027년 2월 28일" in plan.reason_ko


@pytest.mark.parametrize(
    ("made_on", "months", "last_day"),
    [
        (date(2025, 11, 20), 60, date(2030, 11, 20)),  # art. 160(2): day before the same date
        (date(2026, 8, 30), 6, date(2027, 2, 28)),  # art. 160(3): no 31 February
        (date(2027, 8, 31), 6, date(2028, 2, 29)),  # leap year
        (date(2026, 9, 15), 3, date(2026, 12, 15)),
        # A record on a month's last day: counting starts on the 1st, whole months (art. 160(1)),
        # one day longer than plain "+ 6 months, clamped" (2026-10-30).
        (date(2026, 4, 30), 6, date(2026, 10, 31)),
        (date(2026, 12, 31), 12, date(2027, 12, 31)),
    ],
)
def test_civil_act_month_counting(made_on: date, months: int, last_day: date) -> None:
    assert add_months_civil(made_on, months) == last_day


def test_item_is_kept_through_the_last_day_and_deleted_the_day_after(policy: Policy) -> None:
    dates: dict[str, date | None] = {
        "ecommerce_contract": date(2021, 12, 15),
        "ecommerce_advertising": None,
    }
    on_last_day = one(policy, "contract_payment_records", dates, today=date(2026, 12, 15))
    assert (on_last_day.action, on_last_day.keep_until) == ("keep", date(2026, 12, 15))
    day_after = one(policy, "contract_payment_records", dates, today=date(2026, 12, 16))
    assert day_after.action == "delete"


# ---------------------------------------------------------------------------------------------
# Several rules on one item


def test_two_statutory_rules_the_later_date_wins(policy: Policy) -> None:
    both = _with_retention(
        policy, "contract_payment_records", ("ecommerce_contract", "ecommerce_complaint")
    )
    dates: dict[str, date | None] = {
        "ecommerce_contract": date(2024, 3, 1),  # 5 years: 2029-03-01
        "ecommerce_complaint": date(2026, 6, 10),  # 3 years: 2029-06-10
    }
    (plan,) = plan_deletion(["contract_payment_records"], both, policy, dates, TODAY)
    assert (plan.action, plan.keep_until, plan.rule) == (
        "keep",
        date(2029, 6, 10),
        "ecommerce_complaint",
    )
    assert plan.record == "소비자 불만 또는 분쟁처리에 관한 기록"
    assert "2029년 6월 10일" in plan.reason_ko

    # The other way round, the contract rule wins and is the one named.
    dates["ecommerce_complaint"] = date(2024, 1, 5)  # 2027-01-05
    (plan,) = plan_deletion(["contract_payment_records"], both, policy, dates, TODAY)
    assert (plan.keep_until, plan.rule) == (date(2029, 3, 1), "ecommerce_contract")
    assert plan.record == "계약 또는 청약철회, 대금결제, 재화 등의 공급기록"

    # One record expired, the other absent: delete.
    dates = {"ecommerce_contract": date(2020, 1, 1), "ecommerce_complaint": None}
    (plan,) = plan_deletion(["contract_payment_records"], both, policy, dates, TODAY)
    assert plan.action == "delete"


def test_until_withdrawal_never_holds_a_record_item(policy: Policy) -> None:
    item = service(policy, "uno").item("contract_payment_records")
    assert item is not None and "until_withdrawal" in item.retention
    plan = one(
        policy,
        "contract_payment_records",
        {"ecommerce_contract": None, "ecommerce_advertising": None},
        service_code="uno",
    )
    assert plan.action == "delete"


# ---------------------------------------------------------------------------------------------
# Access logs (통신비밀보호법, 3 months) on automatically collected items


def test_access_logs_are_kept_three_months(policy: Policy) -> None:
    plans = plan_deletion(
        ["terminal_info", "ip_address", "home_address"],
        service(policy, "webersoft"),
        policy,
        {"comms_access_logs": date(2026, 10, 1)},
        TODAY,
    )
    terminal, ip, address = plans
    for plan in (terminal, ip):
        assert (plan.action, plan.keep_until, plan.rule) == (
            "keep",
            date(2027, 1, 1),
            "comms_access_logs",
        )
        assert plan.statute == "통신비밀보호법"
        assert plan.record == "컴퓨터통신, 인터넷 로그기록자료, 접속지 추적자료"
        assert plan.reason_ko.startswith("「통신비밀보호법」 제15조의2제2항")
        assert "제21조제1항 단서" in plan.reason_ko and "2027년 1월 1일까지" in plan.reason_ko
    assert terminal.item_name == "단말기 정보"
    assert address.action == "delete"

    old = one(policy, "access_records", {"comms_access_logs": date(2026, 9, 10)})
    assert old.action == "delete"  # ended 2026-12-10


def test_access_log_date_is_required_for_auto_items(policy: Policy) -> None:
    with pytest.raises(RecordDateMissing) as info:
        one(policy, "access_records", {"ecommerce_contract": date(2026, 1, 1)})
    assert (info.value.rule, info.value.item) == ("comms_access_logs", "access_records")


# ---------------------------------------------------------------------------------------------
# Items and policy problems


def test_unknown_item_is_a_value_error_naming_it(policy: Policy) -> None:
    with pytest.raises(ValueError, match="'fax_number'"):
        one(policy, "fax_number", {})
    # The brand site takes inquiries only: it has no billing records.
    with pytest.raises(ValueError, match=r"'contract_payment_records'.*'carecrm'"):
        one(
            policy, "contract_payment_records", {"ecommerce_contract": None}, service_code="carecrm"
        )


def test_duplicates_collapse_and_order_is_kept(policy: Policy) -> None:
    plans = plan_deletion(
        ["gender", "manager_phone", "gender"], service(policy, "smartcrm"), policy, {}, TODAY
    )
    assert [p.item for p in plans] == ["gender", "manager_phone"]
    assert plan_deletion([], service(policy, "smartcrm"), policy, {}, TODAY) == []


def test_statutory_rule_without_a_fixed_period_cannot_be_planned(policy: Policy) -> None:
    odd = RetentionRule(
        code="statutory_event",
        name="기록",
        period="사건 종료 시까지",
        until="contract_end",
        statute="어느 법률",
        article="제1조",
        statutory=True,
    )
    other = policy.model_copy(update={"retention_rules": (*policy.retention_rules, odd)})
    svc = _with_retention(policy, "gender", ("statutory_event",))
    with pytest.raises(ValueError, match="no fixed period"):
        plan_deletion(["gender"], svc, other, {"statutory_event": date(2026, 1, 1)}, TODAY)


def test_plans_are_frozen(policy: Policy) -> None:
    plan = one(policy, "gender", {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.action = "keep"  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# Summary for the timeline


def test_summary_counts_and_latest_date(policy: Policy) -> None:
    plans = plan_deletion(
        ["contract_payment_records", "complaint_records", "terminal_info", "inquiry_contact"],
        service(policy, "smartcrm"),
        policy,
        {
            "ecommerce_contract": date(2025, 11, 20),
            "ecommerce_advertising": None,
            "ecommerce_complaint": date(2026, 2, 3),
            "comms_access_logs": date(2026, 12, 1),
        },
        TODAY,
    )
    summary = retention_summary(plans)
    assert summary == {
        "items": 4,
        "delete": 1,
        "keep": 3,
        "keep_until_latest": "2030-11-20",
        "kept_by_rule": {"comms_access_logs": 1, "ecommerce_complaint": 1, "ecommerce_contract": 1},
    }
    assert retention_summary([]) == {
        "items": 0,
        "delete": 0,
        "keep": 0,
        "keep_until_latest": None,
        "kept_by_rule": {},
    }


def _with_retention(policy: Policy, item_code: str, rules: tuple[str, ...]) -> Service:
    """스마트CRM with one item's retention replaced (rules from the shipped policy)."""
    svc = service(policy, "smartcrm")
    items = tuple(
        i.model_copy(update={"retention": rules}) if i.code == item_code else i for i in svc.items
    )
    return svc.model_copy(update={"items": items})
