"""The rules behind decisions, as pure functions: the record match (Decree art. 46(1)), every
requested item accounted for (Decree art. 42(1)), objections (art. 38(5)), access in time."""

from __future__ import annotations

from datetime import date

import pytest

from app.errors import BusinessRuleViolation, Conflict, ValidationFailed
from app.workflows.decisions import (
    DraftDecision,
    access_after_deadline,
    check_items,
    check_outcome,
    needs_approval,
    objection_allowed,
    requested_items,
)
from app.workflows.identity import check_record_match
from app.workflows.lifecycle import Outcome, Status

ITEMS = frozenset({"a", "b", "c", "d"})


def draft(
    outcome: Outcome, granted: list[str], withheld: list[str], requested: list[str]
) -> DraftDecision:
    return DraftDecision(
        request_type="access",
        outcome=outcome,
        grounds=[],
        items_requested=requested,
        items_granted=granted,
        items_withheld=withheld,
        subject_stated_termination=None,
    )


@pytest.mark.parametrize("outcome", [Outcome.GRANTED, Outcome.PARTIALLY_GRANTED])
def test_a_grant_needs_a_binding_check(outcome: Outcome) -> None:
    with pytest.raises(Conflict) as caught:
        check_record_match(outcome, "access", ["one_time_code"], required=True)
    assert caught.value.code == "identity_not_matched"
    for method in ("account_record_match", "id_in_person", "id_copy"):
        check_record_match(outcome, "access", ["one_time_code", method], required=True)
    check_record_match(outcome, "access", [], required=False)
    check_record_match(outcome, "objection", [], required=True)  # reopening discloses nothing


@pytest.mark.parametrize("outcome", [Outcome.REFUSED, Outcome.NO_DATA_HELD, Outcome.UNCHANGED])
def test_what_grants_nothing_needs_no_check(outcome: Outcome) -> None:
    check_record_match(outcome, "correction", ["member_login"], required=True)


def test_requested_items_are_the_named_the_correction_or_all() -> None:
    service = ["a", "b", "c"]
    assert requested_items(["b", "b"], service, "a") == ["b"]
    assert requested_items([], service, "c") == ["c"]
    assert requested_items([], service, "free text") == service
    assert requested_items([], service) == service
    # A correction told in words only (a chat, a letter) names no item: staff name them.
    assert requested_items([], service, "free text", correction=True) == []
    assert requested_items([], service, "c", correction=True) == ["c"]


def test_a_correction_in_words_is_granted_for_the_items_staff_name() -> None:
    assert check_items(draft(Outcome.GRANTED, ["b"], [], []), ITEMS).granted == ["b"]
    with pytest.raises(ValidationFailed) as caught:
        check_items(draft(Outcome.GRANTED, [], [], []), ITEMS)
    assert caught.value.errors[0].field == "items_granted"


def test_every_requested_item_is_accounted_for() -> None:
    with pytest.raises(BusinessRuleViolation) as caught:
        check_items(draft(Outcome.PARTIALLY_GRANTED, ["a"], ["b"], ["a", "b", "c", "d"]), ITEMS)
    exc = caught.value
    assert exc.code == "items_unaccounted"
    assert [e.message.split("'")[1] for e in exc.errors] == ["c", "d"]
    decided = check_items(
        draft(Outcome.PARTIALLY_GRANTED, ["a", "c"], ["b"], ["a", "b", "c"]), ITEMS
    )
    assert (decided.granted, decided.withheld) == (["a", "c"], ["b"])


def test_a_full_grant_naming_nothing_grants_everything_requested() -> None:
    assert check_items(draft(Outcome.GRANTED, [], [], ["a", "b"]), ITEMS).granted == ["a", "b"]
    with pytest.raises(BusinessRuleViolation):
        check_items(draft(Outcome.GRANTED, ["a"], [], ["a", "b"]), ITEMS)


def test_a_refusal_naming_nothing_refuses_everything() -> None:
    assert check_items(draft(Outcome.REFUSED, [], [], ["a", "b"]), ITEMS).withheld == []
    with pytest.raises(BusinessRuleViolation):
        check_items(draft(Outcome.REFUSED, [], ["a"], ["a", "b"]), ITEMS)


@pytest.mark.parametrize("outcome", [Outcome.NO_DATA_HELD, Outcome.UNCHANGED])
def test_no_data_held_and_unchanged_name_no_items(outcome: Outcome) -> None:
    assert check_items(draft(outcome, [], [], ["a"]), ITEMS).granted == []
    with pytest.raises(ValidationFailed):
        check_items(draft(outcome, ["a"], [], ["a"]), ITEMS)


def test_unchanged_is_for_corrections_and_objections_are_upheld_or_not() -> None:
    check_outcome("correction", Outcome.UNCHANGED)
    check_outcome("suspension", Outcome.NO_DATA_HELD)
    for rtype, outcome in (("access", Outcome.UNCHANGED), ("objection", Outcome.NO_DATA_HELD)):
        with pytest.raises(ValidationFailed):
            check_outcome(rtype, outcome)


def test_objections_lie_against_every_outcome_short_of_a_full_grant() -> None:
    for outcome in (
        Outcome.PARTIALLY_GRANTED,
        Outcome.REFUSED,
        Outcome.NO_DATA_HELD,
        Outcome.UNCHANGED,
    ):
        assert objection_allowed(Status.COMPLETED, outcome)
        assert not objection_allowed(Status.EXECUTING, outcome)
    assert not objection_allowed(Status.COMPLETED, Outcome.GRANTED)


def test_only_a_full_grant_can_skip_the_officer() -> None:
    assert not needs_approval("access", Outcome.GRANTED, approval_for_all=False)
    for outcome in (Outcome.NO_DATA_HELD, Outcome.UNCHANGED, Outcome.REFUSED):
        assert needs_approval("access", outcome, approval_for_all=False)


def test_access_is_given_by_the_last_day_of_the_period() -> None:
    due = date(2026, 12, 28)
    assert not access_after_deadline(date(2026, 12, 28), due)
    assert access_after_deadline(date(2026, 12, 29), due)
