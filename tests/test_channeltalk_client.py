"""ChannelTalkClient against FakeChannelTalk over real HTTP (no mocks)."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest

from app.integrations.channeltalk import ChannelTalkClient
from app.integrations.delivery import PermanentDeliveryError, TransientDeliveryError
from tests.channeltalk_fake import FakeChannelTalk
from tests.servers import free_port

SECRET = "s3cret-value-never-logged"
TEXT = "[개인정보 요청 접수] 접수번호 DSR-TEST-0001\n\n본인 확인 후 처리합니다."
CHAT, USER = "chat-0001", "user-0001"


class Sleeps:
    """The injected `sleep`: records delays instead of waiting, so retry tests stay fast."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def fake() -> Iterator[FakeChannelTalk]:
    with FakeChannelTalk(access_secret=SECRET) as server:
        server.add_user(USER, member_id="member-42", email="subject@example.test")
        server.add_chat(CHAT, USER)
        yield server


def client_for(fake: FakeChannelTalk, **kwargs: Any) -> ChannelTalkClient:
    kwargs.setdefault("sleep", Sleeps())
    kwargs.setdefault("rng", random.Random(7))
    secret = kwargs.pop("secret", SECRET)
    return ChannelTalkClient(fake.base_url, "test-key", secret, timeout=2.0, **kwargs)


def test_auth_headers_and_credential_self_test(fake: FakeChannelTalk) -> None:
    with client_for(fake) as client:
        assert client.get_channel() == {"channel": {"id": "123456", "name": "테스트채널"}}
    (call,) = fake.calls
    assert call.headers["x-access-key"] == "test-key"
    assert call.headers["x-access-secret"] == SECRET
    assert call.headers["accept"] == "application/json"


def test_send_message_body_one_block_per_paragraph(fake: FakeChannelTalk) -> None:
    with client_for(fake) as client:
        result = client.send_message(
            CHAT, TEXT, request_id="req-1:receipt", bot_name="개인정보보호팀",
            private=True, options=("silent", "private"),
        )  # fmt: skip
    (call,) = fake.posts_to(CHAT)
    assert call.query == {"botName": "개인정보보호팀"}
    assert call.headers["content-type"] == "application/json"
    assert call.json == {
        "blocks": [
            {"type": "text", "value": "[개인정보 요청 접수] 접수번호 DSR-TEST-0001"},
            {"type": "text", "value": "본인 확인 후 처리합니다."},
        ],
        "requestId": "req-1:receipt",
        "options": ["silent", "private"],  # deduplicated: the API wants unique options
    }
    assert fake.messages_text(CHAT) == [TEXT]
    assert result["message"]["personType"] == "bot"
    assert result["message"]["requestId"] == "req-1:receipt"


def test_send_message_without_bot_name_or_options(fake: FakeChannelTalk) -> None:
    with client_for(fake) as client:
        client.send_message(CHAT, "한 줄", request_id="r")
    (call,) = fake.posts_to(CHAT)
    assert call.query == {}
    assert call.json == {"blocks": [{"type": "text", "value": "한 줄"}], "requestId": "r",
                         "options": []}  # fmt: skip
    with pytest.raises(ValueError):
        client_for(fake).send_message(CHAT, " \n\n ", request_id="r")


def test_read_and_annotate_endpoints(fake: FakeChannelTalk) -> None:
    fake.add_user_message(CHAT, "첫 메시지", message_id="m1", created_at_ms=1_000)
    fake.add_user_message(CHAT, "둘째 메시지", message_id="m2", created_at_ms=2_000)
    fake.set_webhook("https://rightsdesk.example.test/hook", "tok")
    with client_for(fake) as client:
        assert client.get_user_chat(CHAT)["userChat"]["userId"] == USER
        assert client.get_user(USER)["user"]["profile"]["email"] == "subject@example.test"
        assert client.get_user("@member-42")["user"]["id"] == USER
        chats = client.list_user_chats(limit=10)
        assert [c["id"] for c in chats["userChats"]] == [CHAT]
        assert [u["id"] for u in chats["users"]] == [USER]
        first = client.list_messages(CHAT, sort_order="asc", limit=1)
        assert [m["id"] for m in first["messages"]] == ["m1"]
        rest = client.list_messages(CHAT, sort_order="asc", limit=1, since=first["next"])
        assert [m["id"] for m in rest["messages"]] == ["m2"] and rest["next"] is None
        changed = client.update_chat_description(CHAT, "DSR-TEST-0001 삭제 요청 접수")
        assert changed["userChat"]["description"] == "DSR-TEST-0001 삭제 요청 접수"
        (hook,) = client.list_webhooks()["webhooks"]
        assert hook["blocked"] is False and hook["token"] == "tok"
    (listing,) = [
        c for c in fake.calls_to("GET", "/open/v5/user-chats") if c.path.endswith("chats")
    ]
    assert listing.query == {
        "state": "opened", "sortOrder": "desc", "limit": "10"
    }  # fmt: skip
    assert fake.calls_to("PATCH", "/open/v5/user-chats/")[0].json == {
        "description": "DSR-TEST-0001 삭제 요청 접수"
    }


def test_path_segments_are_quoted(fake: FakeChannelTalk) -> None:
    with client_for(fake) as client, pytest.raises(PermanentDeliveryError):
        client.get_user_chat("a/b?c")
    assert fake.calls[-1].raw_path == "/open/v5/user-chats/a%2Fb%3Fc"


def test_429_waits_until_the_reset_time(fake: FakeChannelTalk) -> None:
    reset = math.ceil(time.time() + 0.5)  # the header has whole seconds: 0.5-1.5 s from now
    fake.fail_next("GET", "/open/v5/channel", 429, headers={"x-ratelimit-reset": str(reset)})
    with client_for(fake, sleep=time.sleep) as client:
        client.get_channel()
    first, retry = fake.calls
    assert first.status == 429 and retry.status == 200
    assert retry.at >= reset


def test_429_beyond_max_rate_wait_is_not_slept(fake: FakeChannelTalk) -> None:
    far = str(int(time.time()) + 3600)
    fake.fail_next("POST", "/open/v5/user-chats", 429, headers={"x-ratelimit-reset": far})
    sleeps = Sleeps()
    started = time.monotonic()
    with client_for(fake, sleep=sleeps) as client, pytest.raises(TransientDeliveryError) as err:
        client.send_message(CHAT, TEXT, request_id="r")
    assert err.value.reason == "Channel Talk HTTP 429"
    assert sleeps.delays == [] and len(fake.calls) == 1
    assert time.monotonic() - started < 1


def test_429_without_reset_header_backs_off_and_is_bounded(fake: FakeChannelTalk) -> None:
    fake.fail_next("GET", "/open/v5/channel", 429, times=100)
    sleeps = Sleeps()
    client = client_for(fake, sleep=sleeps, max_retries=2)
    with client, pytest.raises(TransientDeliveryError, match="HTTP 429"):
        client.get_channel()
    assert len(fake.calls) == 3
    assert 0.25 <= sleeps.delays[0] <= 0.5 and 0.5 <= sleeps.delays[1] <= 1.0


def test_503_twice_then_success_with_jittered_backoff(fake: FakeChannelTalk) -> None:
    fake.fail_next("POST", f"/open/v5/user-chats/{CHAT}/messages", 503, times=2)
    sleeps = Sleeps()
    with client_for(fake, sleep=sleeps, backoff_base=1.0, backoff_cap=8.0) as client:
        client.send_message(CHAT, TEXT, request_id="r")
    assert [c.status for c in fake.posts_to(CHAT)] == [503, 503, 200]
    assert fake.messages_text(CHAT) == [TEXT]
    rng = random.Random(7)  # the same seed: the delays are exactly the client's jitter draws
    assert sleeps.delays == [rng.uniform(0.5, 1.0), rng.uniform(1.0, 2.0)]


def test_5xx_backoff_is_capped_and_gives_up(fake: FakeChannelTalk) -> None:
    fake.fail_next("GET", "/open/v5/user-chats", 502, times=100)
    sleeps = Sleeps()
    client = client_for(fake, sleep=sleeps, backoff_base=1.0, backoff_cap=2.0, max_retries=4)
    with client, pytest.raises(TransientDeliveryError) as err:
        client.get_user_chat(CHAT)
    assert err.value.reason == "Channel Talk HTTP 502"
    assert len(fake.calls) == 5 and len(sleeps.delays) == 4
    assert 0.5 <= sleeps.delays[0] <= 1.0
    assert all(1.0 <= d <= 2.0 for d in sleeps.delays[1:])  # capped at 2 s, floor at half
    assert len(set(sleeps.delays[1:])) == 3  # jittered, not a fixed schedule


def test_404_is_permanent_and_not_retried(fake: FakeChannelTalk) -> None:
    sleeps = Sleeps()
    with client_for(fake, sleep=sleeps) as client, pytest.raises(PermanentDeliveryError) as err:
        client.send_message("no-such-chat", TEXT, request_id="r")
    assert err.value.reason == "Channel Talk HTTP 404"
    assert len(fake.calls) == 1 and sleeps.delays == []


def test_network_error_is_transient_after_retries() -> None:
    sleeps = Sleeps()
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    client = ChannelTalkClient(closed, "k", SECRET, timeout=1.0, max_retries=2, sleep=sleeps)
    with client, pytest.raises(TransientDeliveryError) as err:
        client.get_channel()
    assert err.value.reason == "Channel Talk ConnectError"
    assert len(sleeps.delays) == 2
    assert err.value.__cause__ is None and err.value.__context__ is None


def test_wrong_credentials_are_permanent(fake: FakeChannelTalk) -> None:
    client = client_for(fake, secret="wrong-secret")
    with client, pytest.raises(PermanentDeliveryError, match="HTTP 401"):
        client.get_channel()
    assert len(fake.calls) == 1


def test_no_secret_text_or_body_in_errors_and_logs(
    fake: FakeChannelTalk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    fake.fail_next("POST", "/open/v5/user-chats", 503, times=2)  # initial try + 1 retry
    errors: list[Exception] = []
    with client_for(fake, max_retries=1) as client:
        for chat in (CHAT, "no-such-chat"):  # the 404 body comes from the fake's state
            with pytest.raises((TransientDeliveryError, PermanentDeliveryError)) as err:
                client.send_message(chat, TEXT, request_id="r")
            errors.append(err.value)
    assert [str(e) for e in errors] == ["Channel Talk HTTP 503", "Channel Talk HTTP 404"]
    for leaked in (SECRET, "DSR-TEST-0001", "본인 확인", "not found", "scripted"):
        assert all(leaked not in repr(e) for e in errors)
        assert leaked not in caplog.text
    assert any(r.name == "rightsdesk.channeltalk" for r in caplog.records)


def test_fake_builds_and_delivers_webhook_envelopes(fake: FakeChannelTalk) -> None:
    event = fake.message_event(CHAT, USER, "제 개인정보를 삭제해 주세요.", message_id="m9")
    assert event["event"] == "push" and event["type"] == "message"
    assert event["entity"]["chatId"] == CHAT and event["entity"]["personId"] == USER
    assert event["refers"]["user"]["memberId"] == "member-42"
    assert event["refers"]["user"]["profile"]["email"] == "subject@example.test"
    assert event["refers"]["userChat"]["id"] == CHAT
    fake.message_event(CHAT, USER, "제 개인정보를 삭제해 주세요.", message_id="m9")  # redelivery
    with client_for(fake) as client:
        assert [m["id"] for m in client.list_messages(CHAT)["messages"]] == ["m9"]
    response = fake.deliver(f"{fake.base_url}/hook", "tok en", event)
    call = fake.calls[-1]
    assert call.path == "/hook" and call.query == {"token": "tok en"} and call.json == event
    assert call.headers["content-type"] == "application/json"
    assert fake.deliveries[-1].status == response.status_code
    opened = fake.user_chat_opened_event(CHAT)
    assert opened["type"] == "userChat" and opened["refers"]["message"]["id"] == "m9"
    deleted = fake.user_deleted_event(USER)
    assert deleted["entity"]["id"] == USER and deleted["entity"]["type"] == "member"
