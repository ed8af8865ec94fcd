"""Every notice readable everywhere: the requester's view (API and status page) and the staff
detail carry the whole text of each notice sent, forms No. 9 and 10 with the reason and the
objection method; an SMS only points there; one-time codes never show."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.integrations.delivery import Outgoing, PermanentDeliveryError
from app.models.notice import Notice
from app.runtime import Runtime
from app.services.audit.purge import purge
from app.services.notices.outbox import Outbox
from tests.conftest import Clock, request_body, subject
from tests.factories import (
    DELETION_WITH_RECORDS,
    PHONE,
    WITHHELD_REASON,
    Desk,
    csrf_token,
    file,
    keep_payment_records,
    partial_access,
    sms_only,
)

Headers = Callable[..., dict[str, str]]

REFUSAL_REASON = "수사기관의 요청으로 열람이 제한됩니다."


class Recorder:
    """A transport that keeps what it was handed, as the gateway would receive it."""

    name = "recorder"

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    def send(self, message: Outgoing) -> None:
        self.sent.append(message)


class Refusing:
    name = "refusing"

    def send(self, message: Outgoing) -> None:
        raise PermanentDeliveryError("number not in service")


def deliver_all(runtime: Runtime, transport: Any) -> None:
    outbox = Outbox(runtime, {"email": transport, "sms": transport, "chat": transport})
    while outbox.run_once():
        pass


def refuse_access(desk: Desk) -> None:
    refusal = {"outcome": "refused", "grounds": ["35-4-1"], "reason": REFUSAL_REASON}
    assert desk.staff_write("decision", refusal).status_code == 200
    ok = desk.staff_write("approval", {"approve": True}, who=desk.officer)
    assert ok.json()["outcome"] == "refused", ok.text


def of_kind(notices: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [n for n in notices if n["kind"] == kind]
    return found


# --- form No. 9 -------------------------------------------------------------------------------


def test_an_sms_requester_reads_the_whole_partial_access_notice_in_the_api(
    client: TestClient, staff_headers: Headers, runtime: Runtime
) -> None:
    desk = sms_only(client, staff_headers, items=["manager_name", "access_records"])
    partial_access(desk)
    gateway = Recorder()
    deliver_all(runtime, gateway)

    notice = of_kind(desk.mine()["notices"], "access_result")
    assert (notice["channel"], notice["status"]) == ("sms", "delivered")
    assert notice["sent_at"] is not None and desk.ref in notice["subject"]
    body = notice["body"]
    assert body.startswith("개인정보 일부열람 통지서\n(개인정보 처리 방법에 관한 고시 별지 제9호")
    granted, withheld = body.split("■ 열람을 제한한 개인정보")
    assert "담당자 이름" in granted and "접속기록" in withheld
    assert WITHHELD_REASON in withheld and "개인정보 보호법 제35조제4항제2호" in withheld
    assert "■ 이의제기 방법" in withheld and "개인정보침해신고센터" in withheld
    assert "김가상 님" in body  # the requester's own name, in their own view

    # What the phone received: only that a notice is ready, and where to read it.
    [sms] = [m for m in gateway.sent if m.kind == "access_result"]
    assert sms.to == PHONE and desk.ref in sms.body and "요청 조회" in sms.body
    assert len(sms.body.encode("euc-kr")) <= 90  # one SMS, not an LMS
    for outcome_text in ("일부", "열람", "제한", "접속기록", "김가상", WITHHELD_REASON, "제35조"):
        assert outcome_text not in sms.body, outcome_text
    assert len(sms.body) < len(body) // 4


def test_a_refusal_reads_with_its_ground_reason_and_objection_method(
    client: TestClient, staff_headers: Headers, runtime: Runtime
) -> None:
    desk = sms_only(client, staff_headers)
    refuse_access(desk)
    deliver_all(runtime, Recorder())
    body = of_kind(desk.mine()["notices"], "access_result")["body"]
    assert body.startswith("개인정보 열람거절 통지서\n")
    assert REFUSAL_REASON in body and "법률에 따라 열람이 금지되거나 제한되는 경우" in body
    assert "■ 이의제기 방법" in body and "개인정보침해신고센터" in body


# --- form No. 10 ------------------------------------------------------------------------------


def test_a_deletion_plan_reads_with_what_is_kept_until_when_under_which_statute(
    client: TestClient, staff_headers: Headers, runtime: Runtime
) -> None:
    desk = sms_only(client, staff_headers, **DELETION_WITH_RECORDS)
    keep_payment_records(desk)
    gateway = Recorder()
    deliver_all(runtime, gateway)

    notice = of_kind(desk.mine()["notices"], "action_result")
    body = notice["body"]
    assert body.startswith("개인정보 정정ㆍ삭제 요구에 대한 결과 통지서\n")
    assert "별지 제10호" in body and "2030년 11월 20일" in body
    assert "전자상거래 등에서의 소비자 보호에 관한 법률" in body and "파기" in body
    assert "■ 이의제기 방법" in body
    [sms] = [m for m in gateway.sent if m.kind == "action_result"]
    for outcome_text in ("삭제", "파기", "보관", "2030", "전자상거래", "결제"):
        assert outcome_text not in sms.body, outcome_text


# --- what is listed, and what never shows -----------------------------------------------------


def test_a_one_time_code_never_shows_queued_failed_or_delivered(
    client: TestClient, staff_headers: Headers, runtime: Runtime, db: Session, clock: Clock
) -> None:
    created = file(client, request_body(subject=subject(email=None, phone=PHONE))).json()
    ref, mine = created["reference"], {"X-Access-Code": created["access_code"]}

    def code_notices() -> list[dict[str, Any]]:
        listed = client.get(f"/v1/requests/{ref}", headers=mine).json()["notices"]
        return [n for n in listed if n["kind"] == "verification_code"]

    # Queued: the stored SMS holds the code until it is sent; the view shows it masked.
    stored = db.exec(select(Notice).where(Notice.kind == "verification_code")).one()
    first = re.search(r"\d{6}", runtime.vault.decrypt(stored.body_enc, field="notice.body"))
    assert first, "the SMS carries the code"
    [queued] = code_notices()
    assert (queued["status"], queued["sent_at"], queued["channel"]) == ("pending", None, "sms")
    assert "******" in queued["body"] and first.group(0) not in queued["body"]

    deliver_all(runtime, Refusing())  # the number is not in service: the code never arrives
    [failed] = code_notices()
    assert failed["status"] == "failed" and first.group(0) not in failed["body"]

    clock.advance(minutes=5)
    again = client.post(f"/v1/requests/{ref}/verification/resend", headers=mine)
    assert again.status_code < 300, again.text
    gateway = Recorder()
    deliver_all(runtime, gateway)
    [sent] = [m for m in gateway.sent if m.kind == "verification_code"]
    second = re.search(r"\d{6}", sent.body)
    assert second, "the new code arrived"

    detail = client.get(f"/v1/staff/requests/{ref}", headers=staff_headers("agent")).json()
    listed = client.get(f"/v1/requests/{ref}", headers=mine).json()["notices"]
    assert [n["status"] for n in listed if n["kind"] == "verification_code"] == [
        "failed",
        "delivered",
    ]
    shown = [n["body"] + n["subject"] for n in listed]
    shown += [n["full_text"] + n["body"] for n in detail["notices"]]
    for text in shown:
        assert first.group(0) not in text and second.group(0) not in text


def test_holder_instructions_are_not_the_requesters(
    client: TestClient, staff_headers: Headers, runtime: Runtime
) -> None:
    desk = Desk(client, staff_headers, type="deletion")
    records = dict.fromkeys(
        (
            "comms_access_logs",
            "comms_fact_records",
            "ecommerce_contract",
            "ecommerce_advertising",
            "ecommerce_complaint",
        )
    )
    desk.staff_write("decision", {"outcome": "granted", "record_dates": records})
    desk.staff_write("approval", {"approve": True}, who=desk.officer)
    deliver_all(runtime, Recorder())

    url = f"/v1/staff/requests/{desk.ref}"
    everything = client.get(f"{url}/notices", headers=desk.agent).json()["items"]
    holders = [n for n in everything if n["kind"] == "task_instruction"]
    assert len(holders) > 1, "each holder was sent its instruction"
    mine = desk.mine()["notices"]
    assert [n["kind"] for n in mine] == ["receipt", "verification_code"]
    detail = client.get(url, headers=desk.agent).json()
    assert [n["kind"] for n in detail["notices"]] == ["receipt", "verification_code"]
    for n in mine:
        assert not any(h["subject"] in n["subject"] for h in holders)


def test_staff_see_each_notice_whole_beside_its_delivery_status(
    client: TestClient, staff_headers: Headers, runtime: Runtime
) -> None:
    desk = sms_only(client, staff_headers)
    refuse_access(desk)
    deliver_all(runtime, Recorder())
    detail = client.get(f"/v1/staff/requests/{desk.ref}", headers=desk.agent).json()
    result = of_kind(detail["notices"], "access_result")
    assert result["status"] == "delivered" and result["recipient"] == PHONE
    assert result["full_text"].startswith("개인정보 열람거절 통지서")
    assert REFUSAL_REASON in result["full_text"] and REFUSAL_REASON not in result["body"]
    mine = of_kind(desk.mine()["notices"], "access_result")
    assert mine["body"] == result["full_text"]


def test_the_status_page_shows_every_notice_whole_newest_first(
    client: TestClient, staff_headers: Headers, runtime: Runtime
) -> None:
    desk = sms_only(client, staff_headers)
    refuse_access(desk)  # left queued: a notice shows before it is sent
    token = csrf_token(client, "/status")
    page = client.post(
        "/status", data={"csrf_token": token, "reference": desk.ref, "access_code": desk.code}
    )
    assert page.status_code == 200
    html = page.text
    section = html.split('id="timeline-h"', 1)[1].split("</section>", 1)[0]
    assert section.count("<details") == len(desk.mine()["notices"]) == 3
    assert section.index("열람 결과 통지") < section.index("본인 확인 인증번호")
    assert section.index("본인 확인 인증번호") < section.index("접수 안내")
    assert "개인정보 열람거절 통지서" in section and "■ 이의제기 방법" in section
    assert "발송 대기" in section and "<script" not in html


def test_the_purge_keeps_the_whole_texts_as_proof_until_the_proof_period_ends(
    client: TestClient, staff_headers: Headers, runtime: Runtime, clock: Clock
) -> None:
    desk = sms_only(client, staff_headers)
    refuse_access(desk)
    deliver_all(runtime, Recorder())
    clock.advance(days=runtime.settings.purge_after_days + 1)
    assert purge(runtime)["requests"] == 1
    detail = client.get(f"/v1/staff/requests/{desk.ref}", headers=desk.agent).json()
    # The address goes; form No. 9 as written stays (Civil Act art. 766(2)).
    assert {n["recipient"] for n in detail["notices"]} == {""}
    assert any("개인정보 열람거절 통지서" in n["full_text"] for n in detail["notices"])
    clock.advance(days=366 * runtime.settings.proof_retention_years)
    assert purge(runtime)["proofs"] == 1
    detail = client.get(f"/v1/staff/requests/{desk.ref}", headers=desk.agent).json()
    assert detail["notices"] and {n["full_text"] for n in detail["notices"]} == {""}
