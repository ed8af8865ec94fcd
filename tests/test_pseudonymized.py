"""Pseudonymized data (가명정보, PIPA art. 28-7): arts. 35-37 do not apply to it, so items and
holders the policy marks `pseudonymized` get no task and are not disclosed, and the result
notice says why, citing 제28조의7."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.policy import DEFAULT_POLICY_FILE, load_policy
from app.services.notices.render import render_notice
from app.workflows.notices import NoticeFacts, NoticeKind, notice_context
from tests.conftest import carry_out
from tests.factories import ACCESS_TERMS, Case, deliver_access

Headers = Callable[..., dict[str, str]]

# A synthetic analytics store that keeps every 우노 item only in pseudonymized form.
ANALYTICS = """
[[services.holders]]
code = "analytics_lake"
name = "분석용 가명정보 저장소"
kind = "system"
items = ["*"]
email = "analytics@example.com"
identifiers = ["member_id"]
pseudonymized = true

"""
SENTENCE = "제28조의7에 따라 가명정보에는 같은 법 제35조, 제35조의2, 제36조 및 제37조"


def pseudonymized_policy(tmp_path: Path) -> Path:
    """The shipped policy with 우노's 서비스 이용기록 kept only as 가명정보 and the store above."""
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    uno = text.index('code = "uno"')
    marker = 'code = "service_usage_records"\n'
    at = text.index(marker, uno) + len(marker)
    text = text[:at] + "pseudonymized = true\n" + text[at:]
    # A 정보전송자 (Decree art. 42-2) from before the test clock, so transmission is offered.
    marker = "policy_effective_date = 2024-09-13"
    text = text.replace(marker, f"{marker}\ntransmission_from = 2026-03-13", 1)
    next_service = text.index("\n[[services]]", text.index('code = "uno"')) + 1
    text = text[:next_service] + ANALYTICS + text[next_service:]
    path = tmp_path / "pseudonymized.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    return {"policy_file": pseudonymized_policy(tmp_path), "public_base_url": "http://testserver"}


def task_items(case: Case) -> tuple[set[str], set[str]]:
    """(holders given a task, items named in any task)."""
    tasks = case.tasks()["items"]
    holders = {t["holder_code"] for t in tasks}
    items = {i["item"] for t in tasks for i in t["instructions"]}
    return holders, items


def result_notice(case: Case) -> str:
    mine = case.client.get(f"/v1/requests/{case.ref}", headers={"X-Access-Code": case.code})
    [body] = [n["body"] for n in mine.json()["notices"] if n["kind"].endswith("_result")]
    return str(body)


def test_a_deletion_leaves_pseudonymized_data_alone_and_the_notice_says_why(
    client: TestClient, staff_headers: Headers
) -> None:
    named = ["manager_name", "birth_date", "service_usage_records"]
    case = Case(client, staff_headers, type="deletion", items=named)
    case.decide_and_approve()
    holders, items = task_items(case)
    assert "analytics_lake" not in holders and "service_usage_records" not in items
    assert {"uno_service_db", "aws"} <= holders and "manager_name" in items
    carry_out(client, case.ref, case.handler)
    assert case.status() == "completed"
    notice = result_notice(case)
    assert "■ 가명정보" in notice and SENTENCE in notice
    assert "서비스 이용기록" in notice.split("■ 가명정보")[1]
    assert "분석용 가명정보 저장소" in notice


def test_a_decision_cannot_act_on_a_pseudonymized_item(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Case(client, staff_headers, type="suspension")  # no items named: all of 우노's
    headers = {**case.handler, "If-Match": case.etag()}
    bad = client.post(
        f"{case.url}/decision",
        json={"outcome": "granted", "items_granted": ["manager_name", "service_usage_records"]},
        headers=headers,
    )
    assert bad.status_code == 422, bad.text
    assert bad.json()["errors"][0]["field"] == "items_granted"
    # Granting what was asked acts on the identifiable items only.
    case.decide_and_approve()
    holders, items = task_items(case)
    assert "service_usage_records" not in items and "analytics_lake" not in holders
    assert {"manager_name", "birth_date", "ip_address"} <= items
    carry_out(client, case.ref, case.handler)
    notice = result_notice(case)
    assert SENTENCE in notice and "서비스 이용기록" in notice


def test_access_does_not_list_pseudonymized_items_as_disclosed(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Case(
        client, staff_headers, type="access", items=["manager_name", "service_usage_records"]
    )
    case.write("decision", {"outcome": "granted", "access": ACCESS_TERMS})
    holders, items = task_items(case)
    assert items == {"manager_name"} and "analytics_lake" not in holders
    released = deliver_access(client, case.ref, case.handler)
    assert released.status_code == 200, released.text
    got = client.get(
        f"/v1/requests/{case.ref}/access-package", headers={"X-Access-Code": case.code}
    )
    assert got.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(got.content))
    statement = unescape(re.sub(r"<[^>]+>", " ", archive.read("열람내역서.html").decode()))
    assert "관리자 이름" in statement or "담당자 이름" in statement
    assert "서비스 이용기록" not in statement and "분석용 가명정보 저장소" not in statement
    notice = result_notice(case)
    assert SENTENCE in notice and "열람" in notice
    granted = notice.split("■ 열람할 개인정보")[1].split("■")[0]
    assert "서비스 이용기록" not in granted


def test_a_transmission_leaves_pseudonymized_data_out_and_the_notice_says_why(
    client: TestClient, staff_headers: Headers
) -> None:
    recipient = {"name": "가상마이데이터 주식회사", "code": "PIPC-2026-0001",
                 "contact": "transfer@mydata.example"}  # fmt: skip
    case = Case(
        client, staff_headers, type="transmission",
        items=["birth_date", "service_usage_records"],
        transmission={"to": "third_party", "recipient": recipient},
    )  # fmt: skip
    case.write("decision", {"outcome": "granted"})
    holders, items = task_items(case)
    assert items == {"birth_date"} and "analytics_lake" not in holders
    for holder in sorted(holders):
        done = case.act(
            holder,
            "complete",
            {"actions": [{"action": "transmitted", "method": "sent_to_recipient"}]},
        )
        assert done.status_code == 200, done.text
    assert case.status() == "completed"
    notice = result_notice(case)
    assert "■ 가명정보" in notice and SENTENCE in notice
    paragraph = notice.split("■ 가명정보")[1]
    assert "서비스 이용기록" in paragraph and "분석용 가명정보 저장소" in paragraph
    assert "이번 전송 조치에서 제외" in paragraph


def test_the_shipped_policy_marks_nothing_pseudonymized() -> None:
    shipped = load_policy(DEFAULT_POLICY_FILE)
    assert not any(i.pseudonymized for s in shipped.services for i in s.items)
    assert not any(h.pseudonymized for s in shipped.services for h in s.holders)


def test_a_correction_of_an_identifiable_item_names_the_pseudonymized_store_only(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Case(client, staff_headers, type="correction",
                correction={"item": "manager_name", "requested_value": "김가상"})  # fmt: skip
    case.write("decision", {"outcome": "granted", "changes": "담당자 이름을 정정"})
    holders, _ = task_items(case)
    assert "analytics_lake" not in holders
    carry_out(client, case.ref, case.handler)
    notice = result_notice(case)
    # The store keeps a pseudonymized copy of every item: the notice says it was left out,
    # and names no pseudonymized item (the corrected one is identifiable).
    assert "분석용 가명정보 저장소" in notice and SENTENCE in notice
    assert "가명정보로만 처리하고" not in notice


def test_the_result_notice_names_pseudonymized_items_and_holders_from_the_policy(
    tmp_path: Path,
) -> None:
    policy = load_policy(pseudonymized_policy(tmp_path))
    facts = NoticeFacts(
        reference="DSR-2612-TESTREF1",
        request_type="deletion",
        service_code="uno",
        received_at=datetime(2026, 12, 15, 1, 0, tzinfo=UTC),
        legal_due_on=date(2026, 12, 28),
        recipient_name="김가상",
        extra={
            "outcome": "refused",
            "grounds": ["36-1-proviso"],
            "reason": "다른 법령에 따라 보존합니다.",
            "statute": "전자상거래법",
            "pseudonymized": ["service_usage_records"],
            "pseudonymized_holders": ["analytics_lake"],
        },
    )
    context = notice_context(NoticeKind.ACTION_RESULT, facts, policy)
    body = render_notice(NoticeKind.ACTION_RESULT, context).body
    paragraph = body.split("■ 가명정보")[1]
    assert "서비스 이용기록" in paragraph and "분석용 가명정보 저장소" in paragraph
    assert SENTENCE in paragraph and "이번 삭제 조치에서 제외" in paragraph
    unknown = replace(facts, extra={**facts.extra, "pseudonymized_holders": ["nowhere"]})
    with pytest.raises(ValueError, match="unknown holder 'nowhere'"):
        notice_context(NoticeKind.ACTION_RESULT, unknown, policy)


def test_a_request_for_pseudonymized_data_only_is_answered_with_the_reason(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Case(client, staff_headers, type="access", items=["service_usage_records"])
    case.write("decision", {"outcome": "no_data_held", "reason": "가명정보만 보유하고 있습니다."})
    assert case.status() == "awaiting_approval"
    case.write("approval", {"approve": True}, who=case.officer)
    assert case.status() == "completed"
    assert case.tasks()["items"] == []
    notice = result_notice(case)
    assert "서비스 이용기록" in notice.split("■ 가명정보")[1] and SENTENCE in notice
