"""The notice extras (app.workflows.notice_extras): one model per kind in one union."""

from __future__ import annotations

import typing
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from app.workflows import notice_extras as ne
from app.workflows.notice_extras import NoticeKind, parse_extra

# The least each kind needs, and which of it is required.
MINIMAL: dict[NoticeKind, dict[str, Any]] = {
    NoticeKind.RECEIPT: {"next_action": "wait"},
    NoticeKind.VERIFICATION_CODE: {"code": "482913", "valid_minutes": 10},
    NoticeKind.ACCESS_CODE: {"new_code": "7K3Q-X9AB-M2PD"},
    NoticeKind.INFO_REQUEST: {"message": "정정하실 전화번호를 알려 주세요."},
    NoticeKind.POSTPONEMENT: {"reason": "시스템 이전 작업"},
    NoticeKind.ACCESS_RESULT: {
        "outcome": "granted",
        "items_granted": ["manager_name"],
        "method": "electronic",
        "place": "요청 조회 화면",
        "fee_krw": 0,
    },
    NoticeKind.ACTION_RESULT: {"outcome": "granted", "action": "정정했습니다."},
    NoticeKind.WITHDRAWAL: {"withdrawn_at": datetime(2026, 12, 16, 3, 30, tzinfo=UTC)},
    NoticeKind.OBJECTION_RECEIPT: {
        "objection_reference": "DSR-20261224-OBJ1",
        "objection_due_on": date(2027, 1, 4),
    },
    NoticeKind.IDENTITY_REJECTED: {"reason": "확인할 수 없었습니다."},
    NoticeKind.DUPLICATE_CLOSED: {"continuing_reference": "DSR-2612-OLDER001"},
    NoticeKind.OBJECTION_RESULT: {
        "outcome": "refused",
        "reason": "원래 결정이 옳습니다.",
        "objected_reference": "DSR-20261215-7KQ2M9",
    },
    NoticeKind.STATUS_UPDATE: {"message": "본인 확인이 완료되었습니다."},
    NoticeKind.SUSPENSION_FOLLOWUP: {"destroyed": ["manager_name"]},
    NoticeKind.CLINIC_RESULT: {
        "instruction": "carry_out",
        "clinic_name": "하늘피부과의원",
        "clinic_contact": "02-123-4567",
    },
    NoticeKind.DEADLINE_EXTENSION: {
        "reason": "외부 업체의 확인을 기다립니다.",
        "previous_due_on": date(2027, 1, 14),
        "new_due_on": date(2027, 2, 15),
        "number": 1,
    },
    NoticeKind.AUTOMATED_DECISION_RESULT: {"outcome": "no_data_held"},
}


def _models() -> dict[NoticeKind, type[BaseModel]]:
    union = typing.get_args(ne.NoticeExtra)[0]
    models = typing.get_args(union)
    return {m.model_fields["kind"].default: m for m in models}


def test_every_kind_has_one_model_in_the_union() -> None:
    assert set(_models()) == set(NoticeKind) == set(MINIMAL)


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_a_complete_extra_parses_into_its_kinds_model(kind: NoticeKind) -> None:
    model = parse_extra(kind, MINIMAL[kind])
    assert type(model) is _models()[kind] and model.kind is kind
    assert parse_extra(kind, model) is model  # a model of the kind is taken as it is


@pytest.mark.parametrize(
    ("kind", "key"), [(kind, key) for kind, extra in MINIMAL.items() for key in extra]
)
def test_an_extra_missing_a_field_is_refused_naming_it(kind: NoticeKind, key: str) -> None:
    incomplete = {k: v for k, v in MINIMAL[kind].items() if k != key}
    with pytest.raises(ValueError, match=rf"^{kind} notice: extra\['{key}'\] is required$"):
        parse_extra(kind, incomplete)
    with pytest.raises(ValidationError, match=key):  # the typed model refuses it too
        _models()[kind](**incomplete)


@pytest.mark.parametrize(
    ("kind", "changes", "message"),
    [
        (NoticeKind.VERIFICATION_CODE, {"valid_minutes": True}, "whole number of at least 1"),
        (NoticeKind.VERIFICATION_CODE, {"code": "  "}, "must be non-empty text"),
        (NoticeKind.INFO_REQUEST, {"respond_by": "2026-13-01"}, r"date \(YYYY-MM-DD\)"),
        (NoticeKind.ACCESS_RESULT, {"items_granted": "manager_name"}, "list of codes"),
        (NoticeKind.ACCESS_RESULT, {"method": "in_person"}, r"extra\['available_at'\]"),
        (NoticeKind.ACCESS_RESULT, {"outcome": "maybe"}, r"extra\['outcome'\] must be one of"),
        (NoticeKind.ACTION_RESULT, {"outcome": "refused", "action": None}, r"extra\['grounds'\]"),
        (NoticeKind.OBJECTION_RESULT, {"outcome": "partially_granted"}, r"extra\['outcome'\]"),
        (NoticeKind.STATUS_UPDATE, {"status_url": 3}, r"extra\['status_url'\] must be text"),
    ],
)
def test_a_malformed_value_is_refused_naming_it(
    kind: NoticeKind, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        parse_extra(kind, {**MINIMAL[kind], **changes})


def test_the_statute_is_required_for_the_36_1_proviso() -> None:
    extra = {"outcome": "refused", "grounds": ["36-1-proviso"], "reason": "법령상 보관"}
    with pytest.raises(ValueError, match=r"extra\['statute'\] is required"):
        parse_extra(NoticeKind.ACTION_RESULT, extra)
    parse_extra(NoticeKind.ACTION_RESULT, {**extra, "statute": "전자상거래법 제6조"})


def test_a_model_of_another_kind_and_the_access_code_are_refused() -> None:
    with pytest.raises(ValueError, match="for a status_update notice"):
        parse_extra(NoticeKind.RECEIPT, ne.StatusUpdateExtra(message="안내"))
    with pytest.raises(ValueError, match="access_code"):
        parse_extra(NoticeKind.RECEIPT, {"next_action": "wait", "access_code": "X"})


def test_none_counts_as_not_given_and_text_is_stripped() -> None:
    model = parse_extra(NoticeKind.INFO_REQUEST, {"message": " 보완 ", "respond_by": None})
    assert isinstance(model, ne.InfoRequestExtra)
    assert model.message == "보완" and model.respond_by is None
