"""Channel Talk end to end: a local fake Channel Talk sends webhook deliveries in the documented
envelope over real HTTP to the service under uvicorn, and records the Open API calls the
service makes back (receipts, status, results, the chat description, managers' notes)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from app.models.channeltalk import ChatCandidate, ChatLink, ChatMessage, InboundEvent
from app.models.notice import Notice
from app.models.request import Event, Party, Request
from app.models.staff import ExportLog
from app.runtime import Runtime
from app.services.channeltalk.jobs import post_candidate_notes, reconcile
from app.services.notices.outbox import Outbox
from app.settings import Settings
from tests.channeltalk_fake import FakeChannelTalk
from tests.conftest import T0, TEST_KEY, Clock, carry_out, mailed_code
from tests.factories import rightsdesk

Headers = Callable[..., dict[str, str]]

TOKEN = "ct-webhook-token-current"
OLD_TOKEN = "ct-webhook-token-previous"
CHAT, USER = "chat-0001", "user-0001"
SENT_AT = T0 - timedelta(minutes=5)  # Tue 2026-12-15 09:55 KST
DELETE_TEXT = "제 개인정보를 삭제해 주세요. 회원 탈퇴도 원합니다."
NAME, EMAIL, MOBILE = "테스트고객", "subject.ct@example.com", "+821055501234"


def ms(at: Any) -> int:
    return int(at.timestamp() * 1000)


@pytest.fixture
def fake() -> Iterator[FakeChannelTalk]:
    with FakeChannelTalk() as server:
        yield server


@pytest.fixture
def settings_overrides(fake: FakeChannelTalk) -> dict[str, Any]:
    return {
        "channeltalk_webhook_token": f"{TOKEN},{OLD_TOKEN}",
        "channeltalk_access_key": "test-key",
        "channeltalk_access_secret": "test-secret",
        "channeltalk_api_base": fake.base_url,
        "channeltalk_service": "uno",
        "channeltalk_max_rate_wait_seconds": 5,
    }


@pytest.fixture
def hook(live_server: str) -> str:
    return f"{live_server}/v1/integrations/channeltalk/webhook"


@pytest.fixture
def customer(fake: FakeChannelTalk) -> None:
    """A lead (not a logged-in member) whose Channel Talk profile has an e-mail address."""
    fake.add_user(USER, type="lead", name=NAME, email=EMAIL, mobile=MOBILE)
    fake.add_chat(CHAT, USER)


def settle(db: Session, count: int) -> list[InboundEvent]:
    """Wait for the background processing of `count` stored deliveries."""
    deadline = time.monotonic() + 10
    while True:
        db.expire_all()
        events = db.exec(select(InboundEvent).order_by(col(InboundEvent.id))).all()
        done = [e for e in events if e.status in ("done", "ignored", "failed")]
        if len(done) >= count or time.monotonic() > deadline:
            assert len(done) == count, [(e.kind, e.status) for e in events]
            return list(events)
        time.sleep(0.02)


def tried_once(db: Session) -> None:
    """Wait until the one stored delivery has been tried: claimed, then handled or released."""
    deadline = time.monotonic() + 10
    while True:
        db.expire_all()
        events = db.exec(select(InboundEvent)).all()
        if any(e.attempts >= 1 and e.status != "processing" for e in events):
            return
        assert time.monotonic() < deadline, [(e.status, e.attempts) for e in events]
        time.sleep(0.02)


def requests_of(db: Session) -> list[Request]:
    db.expire_all()
    return list(db.exec(select(Request).order_by(col(Request.id))).all())


def deliver(fake: FakeChannelTalk, hook: str, text: str, **kw: Any) -> httpx.Response:
    kw.setdefault("created_at_ms", ms(SENT_AT))
    return fake.deliver(hook, TOKEN, fake.message_event(CHAT, USER, text, **kw))


def sent_code(settings: Settings) -> str:
    """The one-time code as the customer received it: the e-mail written by the outbox (the
    .eml masks it; the mail drop keeps it in the private .code file beside it)."""
    for path in sorted(settings.mail_dir.glob("*verification_code*.eml")):
        return mailed_code(path)
    raise AssertionError("no code e-mail")


# --- the "done when" -------------------------------------------------------------------


@pytest.mark.usefixtures("customer")
def test_a_korean_deletion_request_in_a_chat_is_tracked_and_the_chat_hears_back_once(
    fake: FakeChannelTalk, hook: str, db: Session, runtime: Runtime, settings: Settings
) -> None:
    event = fake.message_event(CHAT, USER, DELETE_TEXT, created_at_ms=ms(SENT_AT))
    # Channel Talk may deliver the same event twice.
    assert fake.deliver(hook, TOKEN, event).status_code == 200
    assert fake.deliver(hook, TOKEN, event).status_code == 200
    settle(db, 1)

    [request] = requests_of(db)
    assert (request.type, request.channel, request.status) == (
        "deletion",
        "channeltalk",
        "identity_pending",
    )
    assert request.received_at == SENT_AT  # the message's time, not the processing time
    assert request.legal_due_on.isoformat() == "2026-12-28"  # 10 days, past 성탄절 and a weekend
    link = db.exec(select(ChatLink)).one()
    assert (link.user_chat_id, link.user_id, link.user_type, link.identity) == (
        CHAT,
        USER,
        "lead",
        "none",
    )

    while Outbox(runtime).run_once():
        pass
    receipts = fake.messages_text(CHAT)
    assert len(receipts) == 1, receipts
    receipt = receipts[0]
    assert request.reference in receipt and "2026년 12월 28일(월)" in receipt
    assert "받으신 인증번호를 이 채팅에 입력" in receipt  # the next step
    assert fake.chat(CHAT)["description"].startswith(f"{request.reference} 삭제 요청 접수")
    # The code went to the e-mail address Channel Talk holds, never into the chat.
    code = sent_code(settings)
    assert code not in receipt
    for text in fake.messages_text(CHAT):
        for personal in (NAME, EMAIL, "5550", "1234"):
            assert personal not in text

    # Delivered a third time later (e.g. by reconciliation): still one request, one receipt.
    assert fake.deliver(hook, TOKEN, event).status_code == 200
    while Outbox(runtime).run_once():
        pass
    assert len(requests_of(db)) == 1 and len(fake.messages_text(CHAT)) == 1


def test_a_wrong_token_gets_401_and_stores_nothing_the_previous_token_still_works(
    fake: FakeChannelTalk, hook: str, db: Session
) -> None:
    fake.add_user(USER, type="lead")
    fake.add_chat(CHAT, USER)
    event = fake.message_event(CHAT, USER, DELETE_TEXT, created_at_ms=ms(SENT_AT))
    wrong = fake.deliver(hook, "not-the-token", event)
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_webhook_token"
    assert httpx.post(hook, json=event).status_code == 401  # no token at all
    assert db.exec(select(func.count()).select_from(InboundEvent)).one() == 0
    # During a rotation the previous token is accepted too.
    assert fake.deliver(hook, OLD_TOKEN, event).status_code == 200
    settle(db, 1)
    assert len(requests_of(db)) == 1


@pytest.mark.usefixtures("customer")
def test_unrelated_messages_and_other_events_file_nothing_and_get_200(
    fake: FakeChannelTalk, hook: str, db: Session
) -> None:
    for text in ("안녕하세요, 결제 오류가 나요", "영수증 보내 주세요"):
        assert deliver(fake, hook, text).status_code == 200
    # Our own bot's post and a manager's reply, even with the words, are not customers'.
    assert deliver(fake, hook, DELETE_TEXT, person_type="bot").status_code == 200
    assert deliver(fake, hook, DELETE_TEXT, person_type="manager").status_code == 200
    assert fake.deliver(hook, TOKEN, fake.user_chat_opened_event(CHAT)).status_code == 200
    # Not JSON, or JSON of another shape: 200, dropped (never a failure that blocks the hook).
    assert fake.deliver(hook, TOKEN, b"{not json").status_code == 200
    assert fake.deliver(hook, TOKEN, b"[1, 2]").status_code == 200
    events = settle(db, 5)
    assert {e.status for e in events} == {"ignored"}
    assert requests_of(db) == []
    assert db.exec(select(ChatCandidate)).all() == []


def test_a_429_from_the_open_api_is_retried_after_the_reset(
    fake: FakeChannelTalk, hook: str, db: Session, runtime: Runtime
) -> None:
    fake.add_user(USER, type="lead")  # no contact: staff will verify
    fake.add_chat(CHAT, USER)
    assert deliver(fake, hook, DELETE_TEXT).status_code == 200
    settle(db, 1)
    reset = int(time.time()) + 1
    fake.fail_next(
        "POST",
        f"/open/v5/user-chats/{CHAT}/messages",
        429,
        headers={"x-ratelimit-reset": str(reset), "x-ratelimit-remaining": "0"},
    )
    while Outbox(runtime).run_once():
        pass
    posts = fake.posts_to(CHAT)
    assert [p.status for p in posts] == [429, 200]
    assert posts[1].at >= reset
    [receipt] = fake.messages_text(CHAT)
    assert "담당자가 이 채팅으로 본인 확인 방법을 안내" in receipt
    db.expire_all()
    notice = db.exec(select(Notice).where(Notice.kind == "receipt")).one()
    assert (notice.status, notice.attempts) == (
        "delivered",
        1,
    )  # one outbox attempt, retried inside


# --- detection, later messages, identity -----------------------------------------------------


@pytest.mark.usefixtures("customer")
def test_the_code_typed_into_the_chat_verifies_and_later_messages_join_the_request(
    fake: FakeChannelTalk, hook: str, db: Session, runtime: Runtime, settings: Settings
) -> None:
    deliver(fake, hook, DELETE_TEXT, message_id="m1")
    settle(db, 1)
    Outbox(runtime).run_once()
    code = sent_code(settings)
    wrong = "000000" if code != "000000" else "111111"
    deliver(fake, hook, f"인증번호 {wrong}", message_id="m2")
    deliver(fake, hook, code, message_id="m3")
    deliver(fake, hook, "언제쯤 처리될까요?", message_id="m4")
    settle(db, 4)
    while Outbox(runtime).run_once():
        pass
    [request] = requests_of(db)
    assert request.status == "in_review"
    texts = fake.messages_text(CHAT)
    assert "인증번호가 맞지 않습니다" in texts[1]
    assert "본인 확인이 완료되었습니다" in texts[2]
    messages = db.exec(select(ChatMessage).order_by(col(ChatMessage.id))).all()
    assert [m.message_id for m in messages] == ["m1", "m2", "m3", "m4"]
    kept = [runtime.vault.decrypt(m.text_enc, field="chat_message.text") for m in messages]
    assert code not in "".join(kept)  # the code is a secret, remembered as "(인증번호 입력)"
    # A different right in the same chat is a request of its own.
    deliver(fake, hook, "그리고 제 개인정보 열람도 하고 싶어요", message_id="m5")
    settle(db, 5)
    assert [r.type for r in requests_of(db)] == ["deletion", "access"]


@pytest.mark.usefixtures("customer")
def test_a_low_confidence_message_asks_managers_privately_and_a_confirmation_files_it(
    fake: FakeChannelTalk,
    hook: str,
    db: Session,
    runtime: Runtime,
    client: TestClient,
    staff_headers: Headers,
    clock: Clock,
) -> None:
    deliver(fake, hook, "전화번호 변경하려면 어떻게 하나요?", message_id="m1")
    settle(db, 1)
    assert requests_of(db) == []
    from app.integrations.chat import client_for

    assert post_candidate_notes(runtime, client_for(runtime.settings)) == 1
    [note] = fake.posts_to(CHAT)
    assert "private" in note.json["options"]
    assert "후보" in fake.messages_text(CHAT)[0]
    assert post_candidate_notes(runtime, client_for(runtime.settings)) == 0  # once

    agent = staff_headers("agent")
    [candidate] = client.get("/v1/staff/channeltalk/candidates", headers=agent).json()["items"]
    assert candidate["suggested"] == ["correction"] and candidate["note_posted"]
    db.expire_all()
    [viewed] = db.exec(select(ExportLog).where(ExportLog.kind == "chat_candidates")).all()
    assert (viewed.row_count, viewed.personal_data) == (1, True)  # the view is on record
    clock.advance(days=2)  # confirmed two days later: the deadline still counts from the message
    filed = client.post(
        f"/v1/staff/channeltalk/candidates/{candidate['id']}/file",
        json={"type": "correction"},
        headers=agent,
    )
    assert filed.status_code == 201, filed.text
    assert filed.json()["legal_deadline"] == "2026-12-28"
    again = client.post(
        f"/v1/staff/channeltalk/candidates/{candidate['id']}/file",
        json={"type": "correction"},
        headers=agent,
    )
    assert again.status_code == 409
    [request] = requests_of(db)
    assert (request.type, request.received_at) == ("correction", SENT_AT)
    # The Channel Talk profile came along: the one-time code goes to its e-mail address.
    while Outbox(runtime).run_once():
        pass
    assert list(runtime.settings.mail_dir.glob(f"{request.reference}-verification_code-*.eml"))


class TestMemberHash:
    @pytest.fixture
    def settings_overrides(self, fake: FakeChannelTalk) -> dict[str, Any]:
        return {
            "channeltalk_webhook_token": TOKEN,
            "channeltalk_access_key": "test-key",
            "channeltalk_access_secret": "test-secret",
            "channeltalk_api_base": fake.base_url,
            "channeltalk_service": "uno",
            "channeltalk_member_hash": True,
        }

    def test_a_member_with_member_hash_is_verified_by_the_login_a_lead_is_not(
        self, fake: FakeChannelTalk, hook: str, db: Session, runtime: Runtime
    ) -> None:
        fake.add_user(USER, member_id="member-00042", type="member", email=EMAIL)
        fake.add_chat(CHAT, USER)
        fake.add_user("lead-1", type="lead", email="lead.ct@example.com")
        fake.add_chat("chat-lead", "lead-1")
        deliver(fake, hook, DELETE_TEXT)
        fake.deliver(
            hook,
            TOKEN,
            fake.message_event("chat-lead", "lead-1", DELETE_TEXT, created_at_ms=ms(SENT_AT)),
        )
        settle(db, 2)
        member, lead = requests_of(db)
        assert (member.status, lead.status) == ("in_review", "identity_pending")
        while Outbox(runtime).run_once():
            pass
        assert "회원 로그인으로 본인 확인이 되어" in fake.messages_text(CHAT)[0]
        assert not list(runtime.settings.mail_dir.glob(f"{member.reference}-*code*.eml"))
        assert list(runtime.settings.mail_dir.glob(f"{lead.reference}-*code*.eml"))


# --- status and result, reconciliation, the token -------------------------------------------


@pytest.mark.usefixtures("customer")
def test_identity_confirmed_and_the_result_are_posted_without_personal_data(
    fake: FakeChannelTalk,
    hook: str,
    db: Session,
    runtime: Runtime,
    client: TestClient,
    staff_headers: Headers,
) -> None:
    deliver(fake, hook, DELETE_TEXT)
    settle(db, 1)
    [request] = requests_of(db)
    handler, officer = staff_headers("security"), staff_headers("officer")
    url = f"/v1/staff/requests/{request.reference}"

    def write(path: str, body: dict[str, Any], who: dict[str, str]) -> None:
        etag = client.get(url, headers=handler).headers["etag"]
        resp = client.post(f"{url}/{path}", json=body, headers={**who, "If-Match": etag})
        assert resp.status_code < 300, resp.text

    write("identity", {"result": "verified", "method": "account_record_match"}, handler)
    # No statute's records exist for this customer: everything is destroyed.
    records = dict.fromkeys(
        (
            "comms_access_logs",
            "comms_fact_records",
            "ecommerce_contract",
            "ecommerce_advertising",
            "ecommerce_complaint",
        )
    )
    write("decision", {"outcome": "granted", "record_dates": records}, handler)
    write("approval", {"approve": True}, officer)
    assert carry_out(client, request.reference, handler)["request_status"] == "completed"
    while Outbox(runtime).run_once():
        pass
    texts = fake.messages_text(CHAT)
    assert "본인 확인이 완료되어" in texts[-2]
    result = texts[-1]
    assert request.reference in result and "복구·재생할 수 없도록 파기했습니다" in result
    for text in texts:
        assert NAME not in text and EMAIL not in text
    detail = client.get(url, headers=handler).json()
    assert detail["status"] == "completed"


def test_reconciliation_files_a_message_the_webhook_never_delivered_and_sees_a_blocked_hook(
    fake: FakeChannelTalk,
    hook: str,
    db: Session,
    runtime: Runtime,
    client: TestClient,
    staff_headers: Headers,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.add_user(USER, type="lead", email=EMAIL)
    fake.add_chat(CHAT, USER)
    fake.add_user_message(CHAT, DELETE_TEXT, message_id="lost-1", created_at_ms=ms(SENT_AT))
    old = ms(T0 - timedelta(days=3))  # outside the look-back: left alone
    fake.add_user_message(CHAT, "개인정보 열람 요청합니다", message_id="old-1", created_at_ms=old)
    fake.set_webhook(hook, TOKEN, blocked=True)
    from app.integrations.chat import client_for

    with caplog.at_level(logging.WARNING, logger="rightsdesk.channeltalk"):
        report = reconcile(runtime, client_for(runtime.settings))
    assert (report["messages_recovered"], report["webhook_blocked"]) == (1, True)
    assert "BLOCKED" in caplog.text
    [request] = requests_of(db)
    assert (request.type, request.received_at) == ("deletion", SENT_AT)
    # Run again, or the delivery arrives after all: nothing twice.
    assert reconcile(runtime, client_for(runtime.settings))["messages_recovered"] == 0
    event = fake.message_event(CHAT, USER, DELETE_TEXT, message_id="lost-1")
    fake.deliver(hook, TOKEN, event)
    # Answered once stored (or dropped as a repeat): wait until whatever was stored is handled.
    db.expire_all()
    settle(db, len(db.exec(select(InboundEvent)).all()))
    assert len(requests_of(db)) == 1
    status = client.get("/v1/staff/integrations/channeltalk", headers=staff_headers("agent"))
    assert status.json()["last_reconciliation"]["webhook_blocked"] is True


def test_the_token_never_reaches_the_logs(
    fake: FakeChannelTalk, hook: str, db: Session, caplog: pytest.LogCaptureFixture
) -> None:
    fake.add_user(USER, type="lead")
    fake.add_chat(CHAT, USER)
    with caplog.at_level(logging.DEBUG):
        deliver(fake, hook, DELETE_TEXT)
        fake.deliver(hook, "a-wrong-token", fake.message_event(CHAT, USER, "x"))
        settle(db, 1)
        # What uvicorn's access log would print for the request line.
        logging.getLogger("uvicorn.access").warning(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "POST", f"/hook?token={TOKEN}", "1.1", 200
        )
    assert "token=[redacted]" in caplog.text
    for secret in (TOKEN, "a-wrong-token", DELETE_TEXT, NAME):
        assert secret not in caplog.text


def test_an_oversized_delivery_is_refused_before_it_is_read(
    fake: FakeChannelTalk, live_server: str, db: Session, settings: Settings
) -> None:
    too_big = (
        b'{"type": "message", "entity": {"id": "x", "plainText": "'
        + b"a" * (settings.channeltalk_max_body_bytes)
        + b'"}}'
    )
    url = f"{live_server}/v1/integrations/channeltalk/webhook"
    resp = fake.deliver(url, TOKEN, too_big)
    assert resp.status_code == 413
    assert db.exec(select(func.count()).select_from(InboundEvent)).one() == 0


@pytest.mark.usefixtures("customer")
def test_a_deeply_nested_delivery_is_200_and_dropped_as_unreadable(
    fake: FakeChannelTalk,
    client: TestClient,
    db: Session,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = "/v1/integrations/channeltalk/webhook"
    nested_array = b'{"type": "message", "entity": {"x": ' + b"[" * 1000 + b"]" * 1000 + b"}}"
    event = fake.message_event(CHAT, USER, DELETE_TEXT, created_at_ms=ms(SENT_AT))
    head, tail = json.dumps(event)[:-1], "}"
    nested_objects = (head + ', "pad": ' + '{"a": ' * 1000 + "1" + "}" * 1000 + tail).encode()
    assert len(nested_array) < 2100
    with caplog.at_level(logging.WARNING, logger="rightsdesk.channeltalk"):
        for body in (nested_array, nested_objects):
            resp = fake.deliver(url, TOKEN, body, client=client)
            assert resp.status_code == 200, resp.text
    assert "nested" in caplog.text
    assert db.exec(select(func.count()).select_from(InboundEvent)).one() == 0
    # Nesting up to the limit is an ordinary delivery.
    depth = settings.channeltalk_max_json_depth
    event["pad"] = json.loads('{"a": ' * (depth - 1) + "1" + "}" * (depth - 1))
    assert fake.deliver(url, TOKEN, event, client=client).status_code == 200
    settle(db, 1)
    assert len(requests_of(db)) == 1


def test_control_characters_from_channel_talk_are_not_kept(
    fake: FakeChannelTalk, hook: str, db: Session, runtime: Runtime
) -> None:
    # The profile's name and mobile number break the rules of a typed one: not used.
    mobile = MOBILE + "\r\n<b>"
    fake.add_user(USER, type="lead", name="\u202e객고트스테", email=EMAIL, mobile=mobile)
    fake.add_chat(CHAT, USER)
    assert deliver(fake, hook, "\u200b\u200b", message_id="blank").status_code == 200
    assert deliver(fake, hook, f"\x1b[31m{DELETE_TEXT}\u202e\x00").status_code == 200
    settle(db, 2)
    [request] = requests_of(db)  # the invisible message filed nothing
    party = db.exec(select(Party).where(Party.request_id == request.id)).one()
    assert party.name_enc is None and party.phone_enc is None
    assert runtime.vault.decrypt_opt(party.email_enc, field="party.email") == EMAIL
    kept = db.exec(select(ChatMessage)).one()
    text = runtime.vault.decrypt(kept.text_enc, field="chat_message.text")
    assert DELETE_TEXT in text
    assert not {"\x1b", "\u202e", "\x00"} & set(text)


@pytest.mark.usefixtures("customer")
@pytest.mark.parametrize(
    "created_at",
    [
        datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC),  # createdAt 1000
        T0 - timedelta(days=3),
        T0 + timedelta(minutes=30),
        T0 + timedelta(days=400),
    ],
)
def test_a_message_time_far_from_the_delivery_is_refused_and_the_delivery_time_used(
    fake: FakeChannelTalk, hook: str, db: Session, created_at: datetime
) -> None:
    assert deliver(fake, hook, DELETE_TEXT, created_at_ms=ms(created_at)).status_code == 200
    settle(db, 1)
    [request] = requests_of(db)
    assert request.received_at == T0  # when the delivery reached us (the injected clock)
    assert request.legal_due_on.isoformat() == "2026-12-28"
    filed = db.exec(select(Event).where(Event.kind == "filed")).one()
    assert filed.data["received_at"] == T0.isoformat()
    assert filed.data["message_created_at"] == created_at.isoformat()
    assert filed.data["received_at_basis"] == "delivery"


@pytest.mark.usefixtures("customer")
@pytest.mark.parametrize("created_at", [T0 - timedelta(hours=20), T0 + timedelta(minutes=5)])
def test_a_message_time_within_the_window_is_the_receipt_time(
    fake: FakeChannelTalk, hook: str, db: Session, created_at: datetime
) -> None:
    assert deliver(fake, hook, DELETE_TEXT, created_at_ms=ms(created_at)).status_code == 200
    settle(db, 1)
    [request] = requests_of(db)
    # A little ahead of our clock is skew: never later than the delivery.
    assert request.received_at == min(created_at, T0)
    filed = db.exec(select(Event).where(Event.kind == "filed")).one()
    assert "received_at_basis" not in filed.data


@pytest.mark.usefixtures("customer")
def test_channel_talk_confirming_the_user_deleted_goes_on_the_timeline(
    fake: FakeChannelTalk, hook: str, db: Session
) -> None:
    deliver(fake, hook, DELETE_TEXT)
    settle(db, 1)
    fake.deliver(hook, TOKEN, fake.user_deleted_event(USER, member=False))
    settle(db, 2)
    kinds = db.exec(select(Event.kind).order_by(col(Event.id))).all()
    assert "channeltalk_user_deleted" in kinds


# --- operations: the command, metrics, the staff detail, start-up checks -----------------------


@pytest.mark.slow  # the command in subprocesses
def test_the_check_command_tests_the_credential_and_finds_our_blocked_webhook(
    fake: FakeChannelTalk, tmp_path: Path
) -> None:
    env = {
        "RIGHTSDESK_ENV": "test",
        "RIGHTSDESK_DATA_DIR": str(tmp_path),
        "RIGHTSDESK_DATA_KEY": TEST_KEY,
        "RIGHTSDESK_CHANNELTALK_WEBHOOK_TOKEN": TOKEN,
        "RIGHTSDESK_CHANNELTALK_SERVICE": "uno",
        "RIGHTSDESK_CHANNELTALK_ACCESS_KEY": "test-key",
        "RIGHTSDESK_CHANNELTALK_ACCESS_SECRET": "test-secret",
        "RIGHTSDESK_CHANNELTALK_API_BASE": fake.base_url,
    }
    assert rightsdesk(env, "channeltalk", "check").returncode == 1  # no webhook registered yet
    fake.set_webhook("https://rightsdesk.example.com/v1/integrations/channeltalk/webhook", TOKEN)
    ok = rightsdesk(env, "channeltalk", "check")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["webhook_found"] is True
    fake.set_webhook(
        "https://rightsdesk.example.com/v1/integrations/channeltalk/webhook", TOKEN, blocked=True
    )
    blocked = rightsdesk(env, "channeltalk", "check")
    assert blocked.returncode == 1 and json.loads(blocked.stdout)["webhook_blocked"] is True
    assert "BLOCKED" in blocked.stderr
    wrong = rightsdesk(
        env | {"RIGHTSDESK_CHANNELTALK_ACCESS_SECRET": "nope"}, "channeltalk", "check"
    )
    assert wrong.returncode == 1 and "401" in wrong.stderr and "nope" not in wrong.stderr


@pytest.mark.usefixtures("customer")
def test_staff_see_the_chat_in_the_detail_and_the_integration_in_metrics(
    fake: FakeChannelTalk,
    hook: str,
    db: Session,
    runtime: Runtime,
    client: TestClient,
    staff_headers: Headers,
) -> None:
    deliver(fake, hook, "주문 수정하고 싶어요", message_id="low-1")
    deliver(fake, hook, DELETE_TEXT + " 주민번호 900101-1234567", message_id="m1")
    settle(db, 2)
    [request] = requests_of(db)
    detail = client.get(f"/v1/staff/requests/{request.reference}", headers=staff_headers()).json()
    chat = detail["chat"]
    assert (chat["user_chat_id"], chat["chat_identity"]) == (CHAT, "none")
    assert chat["detection"]["confidence"] == "high"
    [message] = chat["messages"]
    assert message["text"].startswith(DELETE_TEXT) and "1234567" not in message["text"]
    assert detail["channel"] == "channeltalk" and detail["notify_by"] == "chat"
    metrics = client.get("/metrics", headers=staff_headers("admin")).text
    assert 'rightsdesk_channeltalk_events{status="done"} 2.0' in metrics  # filed + candidate
    assert "rightsdesk_channeltalk_candidates_pending 1.0" in metrics
    assert "rightsdesk_channeltalk_webhook_blocked 0.0" in metrics
    assert 'rightsdesk_outbox_pending{channel="chat"}' in metrics


def test_the_webhook_needs_a_service_for_chats_when_the_policy_has_several(
    settings: Settings,
) -> None:
    from app.main import create_app

    with pytest.raises(ValueError, match="RIGHTSDESK_CHANNELTALK_SERVICE is required"):
        create_app(settings.model_copy(update={"channeltalk_service": None}))
    with pytest.raises(ValueError, match="not a service of the policy"):
        create_app(settings.model_copy(update={"channeltalk_services": {"1": "nope"}}))


# --- at least once, once per chat --------------------------------------------------------------


@pytest.mark.usefixtures("customer")
def test_two_quick_messages_asking_the_same_thing_give_one_request(
    fake: FakeChannelTalk, hook: str, db: Session
) -> None:
    texts = ["제 개인정보 삭제해 주세요", "회원 탈퇴하고 싶어요", "개인정보 파기 요청합니다"]
    events = [
        fake.message_event(CHAT, USER, t, message_id=f"q{i}", created_at_ms=ms(SENT_AT))
        for i, t in enumerate(texts)
    ]
    with ThreadPoolExecutor(len(events)) as pool:
        codes = list(pool.map(lambda e: fake.deliver(hook, TOKEN, e).status_code, events))
    assert codes == [200, 200, 200]
    settle(db, 3)
    assert [r.type for r in requests_of(db)] == ["deletion"]
    assert len(db.exec(select(ChatMessage)).all()) == 3  # the others joined it


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_separate_processes_are_held_apart_by_the_chat_lock(
    fake: FakeChannelTalk, runtime: Runtime, db: Session
) -> None:
    """Two workers (here: threads with their own transactions, as two processes would have)
    handle two messages of one chat at the same moment; PostgreSQL's advisory lock on the
    chat makes the second see the first's request."""
    from app.db import transaction
    from app.integrations.channeltalk_events import customer_message, parse
    from app.services.channeltalk.requests import handle_message

    fake.add_user(USER, type="lead")
    fake.add_chat(CHAT, USER)
    barrier = threading.Barrier(2)

    def handle(i: int) -> str:
        event = fake.message_event(CHAT, USER, DELETE_TEXT, message_id=f"p{i}")
        message = customer_message(parse(json.dumps(event).encode()))  # type: ignore[arg-type]
        assert message is not None
        with transaction(runtime.engine) as session:
            barrier.wait()
            return handle_message(session, runtime, message)

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(handle, [1, 2]))
    assert outcomes == ["filed", "joined"]
    assert len(requests_of(db)) == 1


@pytest.mark.usefixtures("customer")
def test_a_failed_processing_is_retried_by_the_worker_and_old_events_are_purged(
    fake: FakeChannelTalk,
    hook: str,
    db: Session,
    runtime: Runtime,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.services.channeltalk import inbound as chat_inbound
    from app.services.channeltalk import requests as chat_requests

    def broken(*_: Any) -> str:
        raise RuntimeError("database went away")

    monkeypatch.setattr(chat_requests, "handle_envelope", broken)
    assert deliver(fake, hook, DELETE_TEXT).status_code == 200  # still 200: stored first
    tried_once(db)
    db.expire_all()
    [event] = db.exec(select(InboundEvent)).all()
    assert (event.status, event.attempts, event.last_error) == ("pending", 1, "RuntimeError")
    assert requests_of(db) == []
    monkeypatch.undo()
    assert chat_inbound.process_due(runtime) == 0  # not before its backoff
    clock.advance(minutes=2)
    assert chat_inbound.process_due(runtime) == 1
    assert [r.type for r in requests_of(db)] == ["deletion"]
    # Raw deliveries are kept only for the retention period.
    assert chat_inbound.purge_expired(runtime) == 0
    clock.advance(days=runtime.settings.channeltalk_event_retention_days, minutes=1)
    assert chat_inbound.purge_expired(runtime) == 1
    assert db.exec(select(func.count()).select_from(InboundEvent)).one() == 0
    # A repeat after the purge is recognised by its message id: still one request.
    deliver(fake, hook, DELETE_TEXT)
    settle(db, 1)
    assert len(requests_of(db)) == 1


class TestHangulMailboxWithoutSmtpUtf8:
    """The intake rule for addresses holds for chats too: with an SMTP relay that is not
    known to carry a non-ASCII mailbox name, the profile's address is not used; the code
    goes to the profile's mobile number instead of failing at the relay."""

    @pytest.fixture
    def settings_overrides(self, fake: FakeChannelTalk) -> dict[str, Any]:
        return {
            "channeltalk_webhook_token": TOKEN,
            "channeltalk_access_key": "test-key",
            "channeltalk_access_secret": "test-secret",
            "channeltalk_api_base": fake.base_url,
            "channeltalk_service": "uno",
            "smtp_url": "smtp://127.0.0.1:9",  # never reached: the test does not deliver
        }

    def test_the_code_goes_to_the_phone(
        self, fake: FakeChannelTalk, hook: str, db: Session, runtime: Runtime
    ) -> None:
        fake.add_user(USER, type="lead", name=NAME, email="홍길동@예시.한국", mobile=MOBILE)
        fake.add_chat(CHAT, USER)
        deliver(fake, hook, DELETE_TEXT)
        settle(db, 1)
        [request] = requests_of(db)
        db.expire_all()
        [code] = db.exec(select(Notice).where(Notice.kind == "verification_code")).all()
        assert (code.request_id, code.channel) == (request.id, "sms")


def test_a_flood_of_bad_tokens_logs_one_warning_a_minute_with_the_count_left_out(
    client: TestClient, clock: Clock, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 16: each bad token wrote a WARNING, so anyone could fill the logs."""
    url = "/v1/integrations/channeltalk/webhook"

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]

    with caplog.at_level(logging.WARNING, logger="rightsdesk"):
        for _ in range(50):
            assert client.post(url, params={"token": "wrong"}, json={}).status_code == 401
        assert len(warnings()) == 1 and "without a valid token" in warnings()[0]
        clock.advance(seconds=settings.log_repeat_seconds - 1)
        assert client.post(url, json={}).status_code == 401
        assert len(warnings()) == 1
        clock.advance(seconds=1)
        assert client.post(url, json={}).status_code == 401
    assert len(warnings()) == 2
    assert "50 more" in warnings()[1], warnings()
    assert "wrong" not in caplog.text
