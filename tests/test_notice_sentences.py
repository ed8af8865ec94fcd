"""Sentences that live in the notice templates rather than in Python: the receipt's next steps
and the action taken (app/templates/notices/_next_steps.txt.j2, action_done.txt.j2)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.policy import DEFAULT_POLICY_FILE, Policy, load_policy
from app.services.notices.render import render_notice, render_text
from app.workflows.notices import (
    CHAT_NEXT_ACTIONS,
    NEXT_ACTIONS,
    NoticeFacts,
    NoticeKind,
    notice_context,
)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(DEFAULT_POLICY_FILE)


def _receipt(policy: Policy, action: str, *, chat: bool) -> str:
    facts = NoticeFacts(
        reference="DSR-20261215-7KQ2M9",
        request_type="access",
        service_code=policy.services[0].code,
        received_at=datetime(2026, 12, 15, 1, 0, tzinfo=UTC),
        legal_due_on=date(2026, 12, 28),
        chat=chat,
        extra={"next_action": action},
    )
    notice = render_notice(NoticeKind.RECEIPT, notice_context(NoticeKind.RECEIPT, facts, policy))
    return notice.body.split("■ 앞으로의 진행\n", 1)[1].split("\n", 1)[0]


@pytest.mark.parametrize(
    ("chat", "action"),
    [(False, a) for a in NEXT_ACTIONS] + [(True, a) for a in CHAT_NEXT_ACTIONS],
)
def test_every_next_action_has_its_own_sentences(policy: Policy, chat: bool, action: str) -> None:
    steps = _receipt(policy, action, chat=chat)
    assert steps.strip()
    others = CHAT_NEXT_ACTIONS if chat else NEXT_ACTIONS
    assert all(_receipt(policy, other, chat=chat) != steps for other in others if other != action)
    if chat:
        assert "요청 조회 화면" not in steps  # a chat request has no status page


@pytest.mark.parametrize(
    ("type_code", "changes", "deleted", "expected"),
    [
        ("correction", "", [], "요구하신 대로 개인정보를 정정했습니다."),
        (
            "correction",
            "전화번호: 010-0000-0000\n",
            [],
            "요구하신 대로 개인정보를 정정했습니다. 전화번호: 010-0000-0000",
        ),
        (
            "suspension",
            "",
            [],
            "요구하신 개인정보의 처리를 정지했습니다(개인정보 보호법 제37조제2항).",
        ),
        ("deletion", "", [], "요구하신 개인정보를 복구·재생할 수 없도록 파기했습니다."),
        (
            "deletion",
            "",
            ["상담 내역", "주문 내역"],
            "상담 내역, 주문 내역을 복구·재생할 수 없도록 파기했습니다.",
        ),
        (
            "consent_withdrawal",
            "",
            ["마케팅 수신 동의 기록"],
            "동의 철회에 따라 마케팅 수신 동의 기록을 복구·재생할 수 없도록 파기했습니다.",
        ),
        ("deletion", "", ["CRM"], "CRM을 복구·재생할 수 없도록 파기했습니다."),
    ],
)
def test_the_action_taken_is_one_sentence_with_the_right_particle(
    type_code: str, changes: str, deleted: list[str], expected: str
) -> None:
    context = {"type_code": type_code, "changes": changes, "deleted": deleted}
    assert render_text("action_done", context) == expected
