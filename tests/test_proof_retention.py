"""The purge keeps the proof of how a request was handled (Civil Act art. 766(2), PIPA art.
39(1)): at PURGE_AFTER_DAYS the names, contacts and files go, while the notice texts and the
decision reasons stay encrypted until PROOF_RETENTION_YEARS after closing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.decision import Decision
from app.models.notice import Notice
from app.models.request import Party, Request
from app.runtime import Runtime
from app.services.audit.purge import purge
from app.services.audit.verify import verify
from tests.conftest import Clock
from tests.factories import Desk

Headers = Callable[..., dict[str, str]]

REASON = "법령상 의무를 이행하기 위해 처리를 멈출 수 없습니다."


def refused_suspension(client: TestClient, staff_headers: Headers) -> str:
    desk = Desk(client, staff_headers, type="suspension")
    desk.staff_write("decision", {"outcome": "refused", "grounds": ["37-2-1"], "reason": REASON})
    done = desk.staff_write("approval", {"approve": True}, who=desk.officer)
    assert done.json()["status"] == "completed", done.text
    return desk.ref


def stored(db: Session, runtime: Runtime, ref: str) -> dict[str, Any]:
    db.expire_all()
    request = db.exec(select(Request).where(Request.reference == ref)).one()
    v = runtime.vault
    notice = db.exec(
        select(Notice).where(Notice.request_id == request.id, Notice.kind == "action_result")
    ).one()
    decision = db.exec(select(Decision).where(Decision.request_id == request.id)).one()
    party = db.exec(select(Party).where(Party.request_id == request.id)).one()
    return {
        "request": request,
        "body": v.decrypt(notice.body_enc, field="notice.body"),
        "recipient": v.decrypt(notice.recipient_enc, field="notice.recipient"),
        "reason": v.decrypt_opt(decision.reason_enc, field="decision.reason"),
        "grounds": decision.grounds,
        "name": party.name_enc,
    }


def test_the_purge_keeps_the_notice_and_the_reason_until_the_proof_period_ends(
    client: TestClient, staff_headers: Headers, runtime: Runtime, clock: Clock, db: Session
) -> None:
    ref = refused_suspension(client, staff_headers)
    clock.advance(days=runtime.settings.purge_after_days + 1)
    assert purge(runtime)["requests"] == 1
    after = stored(db, runtime, ref)
    # The rest of the personal data is gone: the name, the address the notice went to.
    assert after["name"] is None and after["recipient"] == ""
    # The proof stays: form No. 10 as written (with its date), the reason, the ground.
    assert "처리정지 요구에 대한 결과 통지서" in after["body"] and REASON in after["body"]
    assert "2026년 12월 15일" in after["body"]
    assert after["reason"] == REASON and after["grounds"] == ["37-2-1"]
    assert after["request"].proof_purged_at is None

    # Closed 2026-12-15 01:00 UTC: kept until ten years after, to the hour.
    clock.now = datetime(2036, 12, 15, 0, 59, tzinfo=UTC)
    assert purge(runtime)["proofs"] == 0
    assert REASON in stored(db, runtime, ref)["body"]
    clock.now = datetime(2036, 12, 15, 1, 1, tzinfo=UTC)
    assert purge(runtime, dry_run=True)["proofs"] == 1
    assert purge(runtime)["proofs"] == 1
    gone = stored(db, runtime, ref)
    assert gone["body"] == "" and gone["reason"] is None
    assert gone["request"].proof_purged_at is not None
    assert gone["grounds"] == ["37-2-1"]  # an anonymous fact, kept for the register
    assert purge(runtime)["proofs"] == 0  # once
    events = client.get(f"/v1/staff/requests/{ref}", headers=staff_headers("agent")).json()
    assert [e["kind"] for e in events["events"]][-2:] == ["personal_data_purged", "proof_purged"]
    assert verify(runtime)["intact"] is True


class TestNoProofRetention:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"proof_retention_years": 0}

    def test_zero_removes_the_proof_with_the_rest(
        self,
        client: TestClient,
        staff_headers: Headers,
        runtime: Runtime,
        clock: Clock,
        db: Session,
    ) -> None:
        ref = refused_suspension(client, staff_headers)
        clock.advance(days=runtime.settings.purge_after_days + 1)
        assert purge(runtime)["requests"] == 1
        gone = stored(db, runtime, ref)
        assert gone["body"] == "" and gone["reason"] is None
        assert gone["request"].proof_purged_at is not None
