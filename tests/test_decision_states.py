"""A decision's own states (app.workflows.decisions.DECISION_TRANSITIONS): pure, one table."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from app.errors import InvalidTransition
from app.models.vocab import DecisionState
from app.workflows.decisions import DECISION_TRANSITIONS, move_decision

D = DecisionState


@dataclass
class _Decision:
    state: DecisionState


def test_every_state_has_a_row_and_only_a_draft_moves() -> None:
    assert set(DECISION_TRANSITIONS) == set(DecisionState)
    assert DECISION_TRANSITIONS[D.AWAITING_APPROVAL] == {D.APPROVED, D.SENT_BACK, D.FINAL}
    for state in (D.APPROVED, D.SENT_BACK, D.FINAL):
        assert DECISION_TRANSITIONS[state] == frozenset()


@pytest.mark.parametrize("to", [D.APPROVED, D.SENT_BACK, D.FINAL])
def test_a_draft_is_approved_sent_back_or_final(to: DecisionState) -> None:
    decision = _Decision(D.AWAITING_APPROVAL)
    move_decision(decision, to)
    assert decision.state is to


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (start, to)
        for start, to in itertools.product(DecisionState, DecisionState)
        if to not in DECISION_TRANSITIONS[start]
    ],
)
def test_any_other_change_is_refused_and_changes_nothing(
    start: DecisionState, to: DecisionState
) -> None:
    decision = _Decision(start)
    with pytest.raises(InvalidTransition) as raised:
        move_decision(decision, to)
    assert raised.value.status == 409
    assert decision.state is start
