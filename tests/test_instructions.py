"""Instructions per action: a holder is told only what is asked of it (PIPA arts. 26, 36(2),
36(3), 37(2), 21(3)). A correction carries the item with its current and requested values and
never the deletion paragraph; a suspension stops processing and never deletes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.runtime import Runtime
from app.services.notices.outbox import Outbox
from app.services.notices.render import render_internal
from tests.factories import Case
from tests.servers import SmtpServer, free_port

Headers = Callable[..., dict[str, str]]

DELETION_WORDS = ("삭제", "파기")
NEW_PHONE = "010-9876-5432"
OLD_PHONE = "010-1234-5678"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings_overrides(smtp: SmtpServer) -> dict[str, Any]:
    return {"smtp_url": f"smtp://127.0.0.1:{smtp.port}", "public_base_url": "http://testserver"}


def instruction_mails(runtime: Runtime, smtp: SmtpServer) -> list[tuple[str, str]]:
    """(subject, body) of every e-mail the holders received."""
    while Outbox(runtime).run_once():
        pass
    mails = []
    for m in smtp.handler.received:
        body = m.message.get_body()
        assert body is not None
        if "조치 요청" in m.message["Subject"]:
            mails.append((str(m.message["Subject"]), str(body.get_content())))
    return mails


def confirm_page(client: TestClient, text: str) -> str:
    found = re.search(r"http://testserver(/tasks/confirm\?token=\S+)", text)
    assert found, "the instruction carries its confirmation link"
    page = client.get(found.group(1))
    assert page.status_code == 200
    return page.text


def test_a_correction_tells_each_holder_of_the_item_the_requested_value_and_nothing_of_deletion(
    client: TestClient, staff_headers: Headers, runtime: Runtime, smtp: SmtpServer
) -> None:
    correction = {
        "item": "admin_phone",
        "current_value": OLD_PHONE,
        "requested_value": NEW_PHONE,
    }
    case = Case(client, staff_headers, type="correction", correction=correction)
    case.write("decision", {"outcome": "granted", "changes": f"관리자 전화번호를 {NEW_PHONE}로"})
    tasks = case.tasks()["items"]
    # Only the holders of 관리자 전화번호, each asked to correct that one item.
    assert all(
        t["instructions"] == [{"item": "admin_phone", "instruction": "correct"}] for t in tasks
    )
    assert "channel_corp" in {t["holder_code"] for t in tasks}
    mails = instruction_mails(runtime, smtp)
    assert len(mails) == len(tasks)
    for subject, text in mails:
        assert "정정 조치 요청" in subject
        assert "■ 정정 내용\n- 항목: 관리자 전화번호\n" in text
        assert f"- 현재 값: {OLD_PHONE}\n- 정정할 값: {NEW_PHONE}\n" in text
        assert "제36조제2항" in text
        for word in DELETION_WORDS:
            assert word not in text, word
    page = confirm_page(client, mails[0][1])
    assert "<dd>정정함</dd>" in page and "기록을 요구대로 고침" in page
    assert "삭제함" not in page and "영구 삭제" not in page


def test_a_suspension_asks_to_stop_processing_and_never_to_delete(
    client: TestClient, staff_headers: Headers, runtime: Runtime, smtp: SmtpServer
) -> None:
    case = Case(client, staff_headers, type="suspension", items=["admin_phone"])
    case.decide_and_approve()
    tasks = case.tasks()["items"]
    assert {i["instruction"] for t in tasks for i in t["instructions"]} == {"suspend"}
    mails = instruction_mails(runtime, smtp)
    assert len(mails) == len(tasks)
    for _, text in mails:
        assert "- 처리정지: 위 항목의 처리를 멈춰 주세요" in text
        assert "다른 곳에 제공하지 말고" in text and "지금 상태 그대로 두세요" in text
        for word in DELETION_WORDS:
            assert word not in text, word
    page = confirm_page(client, mails[0][1])
    assert "<dd>처리를 정지함</dd>" in page and "처리·이용을 차단함" in page
    assert "정보를 그대로 두는 것입니다" in page
    assert "영구 삭제" not in page  # art. 37(5)'s follow-up is a step of its own


def test_a_suspended_task_is_not_answered_by_a_deletion(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Case(client, staff_headers, type="suspension", items=["admin_phone"])
    case.decide_and_approve()
    holder = case.tasks()["items"][0]["holder_code"]
    resp = case.act(
        holder,
        "complete",
        {"actions": [{"action": "suspended", "method": "irreversible_deletion"}]},
    )
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["code"] == "method_not_accepted"


# --- the checklist: every instruction kind, the paragraphs it must and must not hold ------------

_BASE: dict[str, Any] = {
    "controller_name": "(주)케어랩스",
    "holder_name": "가상 수탁사",
    "processor": True,
    "reference": "R-2026-000001",
    "service_name": "우노",
    "identifiers": [("휴대전화 번호", OLD_PHONE)],
    "due_text": "2026년 12월 22일(화)",
    "confirm_url": "http://testserver/tasks/confirm?token=x",
    "reply_to": "team@example.test",
    "correction": None,
    "transmit": None,
    **dict.fromkeys(("delete", "separate", "correct", "suspend", "extract"), False),
}

DELETE_PARAGRAPH = "- 삭제(파기): 복구·재생할 수 없는 방법으로 영구 삭제해 주세요"
SEPARATE_PARAGRAPH = "- 분리 보관: 다른 법령에 따라 보존해야 하는 정보이므로"
CORRECT_PARAGRAPH = "- 정정: 위 항목을 정정할 값으로 고쳐 주세요"
SUSPEND_PARAGRAPH = "- 처리정지: 위 항목의 처리를 멈춰 주세요"
EXTRACT_PARAGRAPH = "그대로 추출해 파일"
CORRECTION_VALUES = f"- 현재 값: {OLD_PHONE}\n- 정정할 값: {NEW_PHONE}"
TRANSMIT_PARAGRAPH = "- 전송: 위 항목을 컴퓨터로 처리할 수 있는 형식으로 위 받는 기관에만 전송"
RECIPIENT_LINES = "- 기관: 가상마이데이터 주식회사\n- 등록(지정)번호: PIPC-2026-0001"
EVERY_PARAGRAPH = (
    TRANSMIT_PARAGRAPH,
    RECIPIENT_LINES,
    DELETE_PARAGRAPH,
    SEPARATE_PARAGRAPH,
    CORRECT_PARAGRAPH,
    SUSPEND_PARAGRAPH,
    EXTRACT_PARAGRAPH,
    CORRECTION_VALUES,
)

# kind: (type label, flags, lines, the paragraphs it must hold). Every other paragraph of
# EVERY_PARAGRAPH must be absent.
CHECKLIST: dict[str, tuple[str, dict[str, Any], list[str], tuple[str, ...]]] = {
    "deletion": (
        "삭제",
        {"delete": True},
        ["관리자 전화번호: 삭제(파기)"],
        (DELETE_PARAGRAPH,),
    ),
    "deletion with a statutory hold": (
        "삭제",
        {"delete": True, "separate": True},
        ["관리자 전화번호: 삭제(파기)", "계약 기록: 분리 보관"],
        (DELETE_PARAGRAPH, SEPARATE_PARAGRAPH),
    ),
    "only kept records": (
        "삭제",
        {"separate": True},
        ["계약 기록: 분리 보관"],
        (SEPARATE_PARAGRAPH,),
    ),
    "consent withdrawal": (
        "동의 철회",
        {"delete": True},
        ["직원 휴대전화 번호: 삭제(파기)"],
        (DELETE_PARAGRAPH,),
    ),
    "correction": (
        "정정",
        {
            "correct": True,
            "correction": {
                "items": "관리자 전화번호",
                "current": OLD_PHONE,
                "requested": NEW_PHONE,
            },
        },
        ["관리자 전화번호: 정정"],
        (CORRECT_PARAGRAPH, CORRECTION_VALUES),
    ),
    "correction described in words": (
        "정정",
        {
            "correct": True,
            "correction": {
                "items": "관리자 전화번호",
                "current": "",
                "requested": "",
                "changes": f"관리자 전화번호를 {NEW_PHONE}로",
            },
        },
        ["관리자 전화번호: 정정"],
        (CORRECT_PARAGRAPH, f"- 정정할 내용: 관리자 전화번호를 {NEW_PHONE}로"),
    ),
    "suspension": (
        "처리정지",
        {"suspend": True},
        ["관리자 전화번호: 처리정지"],
        (SUSPEND_PARAGRAPH,),
    ),
    "extract (access)": (
        "열람",
        {"extract": True},
        ["관리자 전화번호: 열람용 사본(추출 파일) 제출"],
        (EXTRACT_PARAGRAPH,),
    ),
    "transmit (transmission to a third party, art. 35-2(2))": (
        "전송",
        {
            "transmit": {
                "name": "가상마이데이터 주식회사",
                "code": "PIPC-2026-0001",
                "contact": "transfer@mydata.example",
            }
        },
        ["관리자 전화번호: 지정된 기관으로 개인정보 전송"],
        (TRANSMIT_PARAGRAPH, RECIPIENT_LINES),
    ),
}


@pytest.mark.parametrize("kind", list(CHECKLIST))
def test_each_instruction_kind_holds_its_paragraphs_and_no_other(kind: str) -> None:
    label, flags, lines, must = CHECKLIST[kind]
    context = {**_BASE, **flags, "type_label": label, "instructions": lines, "done_words": label}
    subject, body = render_internal("task_instruction", context)
    assert f"개인정보 {label}" in subject
    for line in lines:
        assert f"- {line}\n" in body
    for paragraph in EVERY_PARAGRAPH:
        if paragraph in must:
            assert paragraph in body, (kind, paragraph)
        else:
            assert paragraph not in body, (kind, paragraph)
    if not flags.get("delete"):  # nothing to destroy: the mail never speaks of destroying
        assert "영구 삭제" not in body
    if kind in ("correction", "suspension"):
        for word in DELETION_WORDS:
            assert word not in body, (kind, word)
