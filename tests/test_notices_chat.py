"""A request filed in a Channel Talk chat has no access code and so no status page: its
notices are posted whole into the chat (forms No. 9 and 10, reasons, the objection method),
with items named and personal values never. Over the local fake Channel Talk."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.models.channeltalk import InboundEvent
from app.models.request import Request
from app.runtime import Runtime
from app.services.notices.outbox import Outbox
from tests.channeltalk_fake import FakeChannelTalk
from tests.conftest import T0, carry_out

Headers = Callable[..., dict[str, str]]

TOKEN = "ct-webhook-token-notices"
CHAT, USER = "chat-0901", "user-0901"
NAME, EMAIL, MOBILE = "채팅고객", "chat.customer@example.com", "+821055509876"
SENT_AT = T0 - timedelta(minutes=5)
REFUSAL_REASON = "수사기관의 요청으로 열람이 제한됩니다."
NEW_NUMBER = "010-7777-2468"


@pytest.fixture
def fake() -> Iterator[FakeChannelTalk]:
    with FakeChannelTalk() as server:
        server.add_user(USER, type="lead", name=NAME, email=EMAIL, mobile=MOBILE)
        server.add_chat(CHAT, USER)
        yield server


@pytest.fixture
def settings_overrides(fake: FakeChannelTalk) -> dict[str, Any]:
    return {
        "channeltalk_webhook_token": TOKEN,
        "channeltalk_access_key": "test-key",
        "channeltalk_access_secret": "test-secret",
        "channeltalk_api_base": fake.base_url,
        "channeltalk_service": "uno",
        "public_base_url": "https://rights.example.com",
    }


def file_in_chat(fake: FakeChannelTalk, live_server: str, db: Session, text: str) -> Request:
    hook = f"{live_server}/v1/integrations/channeltalk/webhook"
    event = fake.message_event(CHAT, USER, text, created_at_ms=int(SENT_AT.timestamp() * 1000))
    assert fake.deliver(hook, TOKEN, event).status_code == 200
    deadline = time.monotonic() + 10
    while True:  # the webhook answers first and files in the background
        db.expire_all()
        if db.exec(select(InboundEvent).where(col(InboundEvent.status) == "done")).first():
            return db.exec(select(Request)).one()
        assert time.monotonic() < deadline, "the chat message was never processed"
        time.sleep(0.02)


class Staff:
    def __init__(self, client: TestClient, staff_headers: Headers, reference: str) -> None:
        self.client, self.url = client, f"/v1/staff/requests/{reference}"
        self.handler, self.officer = staff_headers("security"), staff_headers("officer")
        self.write("identity", {"result": "verified", "method": "account_record_match"})

    def write(self, path: str, body: dict[str, Any], who: dict[str, str] | None = None) -> None:
        etag = self.client.get(self.url, headers=self.handler).headers["etag"]
        headers = {**(who or self.handler), "If-Match": etag}
        resp = self.client.post(f"{self.url}/{path}", json=body, headers=headers)
        assert resp.status_code < 300, resp.text


def posted(fake: FakeChannelTalk, runtime: Runtime) -> list[str]:
    outbox = Outbox(runtime)
    while outbox.run_once():
        pass
    return fake.messages_text(CHAT)


def assert_nothing_personal(texts: list[str]) -> None:
    for text in texts:
        for personal in (NAME, EMAIL, "5550", "9876", NEW_NUMBER):
            assert personal not in text


def test_a_chat_refusal_is_posted_whole_with_the_objection_method(
    fake: FakeChannelTalk,
    live_server: str,
    db: Session,
    runtime: Runtime,
    client: TestClient,
    staff_headers: Headers,
) -> None:
    request = file_in_chat(fake, live_server, db, "제 개인정보 열람을 요청합니다.")
    staff = Staff(client, staff_headers, request.reference)
    refusal = {"outcome": "refused", "grounds": ["35-4-1"], "reason": REFUSAL_REASON}
    staff.write("decision", refusal)
    staff.write("approval", {"approve": True}, who=staff.officer)

    texts = posted(fake, runtime)
    result = texts[-1]
    assert "개인정보 열람거절 통지서" in result and "별지 제9호" in result
    assert request.reference in result and "고객님" in result
    assert REFUSAL_REASON in result and "개인정보 보호법 제35조제4항제1호" in result
    assert "■ 이의제기 방법" in result and "개인정보침해신고센터" in result
    # No status page and no access code in a chat: the objection goes to the team by e-mail.
    assert "요청 조회 화면" not in result and "확인코드" not in result
    assert "heegon.oh@carelabs.co.kr" in result
    assert_nothing_personal(texts)


def test_a_chat_correction_result_names_the_item_never_the_value(
    fake: FakeChannelTalk,
    live_server: str,
    db: Session,
    runtime: Runtime,
    client: TestClient,
    staff_headers: Headers,
) -> None:
    request = file_in_chat(
        fake, live_server, db, "제 개인정보 중 연락처가 틀렸어요. 정정해 주세요."
    )
    staff = Staff(client, staff_headers, request.reference)
    staff.write(
        "decision",
        {
            "outcome": "granted",
            "items_granted": ["admin_phone"],
            "changes": f"관리자 전화번호를 {NEW_NUMBER}(으)로 고쳤습니다.",
        },
    )
    assert carry_out(client, request.reference, staff.handler)["request_status"] == "completed"

    texts = posted(fake, runtime)
    result = texts[-1]
    assert "개인정보 정정ㆍ삭제 요구에 대한 결과 통지서" in result and "별지 제10호" in result
    assert "요구하신 대로 개인정보를 정정했습니다. 정정한 항목: 관리자 전화번호" in result
    assert_nothing_personal(texts)
    # Staff read the same text beside its delivery in the chat.
    detail = client.get(staff.url, headers=staff.handler).json()
    [notice] = [n for n in detail["notices"] if n["kind"] == "action_result"]
    assert (notice["channel"], notice["status"]) == ("chat", "delivered")
    assert notice["full_text"] == notice["body"] and NEW_NUMBER not in notice["full_text"]
