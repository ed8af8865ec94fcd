"""Every SMS the service sends fits one SMS (90 bytes in EUC-KR) unless LMS is allowed on
purpose (SMS_ALLOW_LMS), and the gateway is told which type each message is."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from app.integrations.delivery import Outgoing, PermanentDeliveryError
from app.integrations.sms import HttpSmsTransport, message_type
from app.policy import DEFAULT_POLICY_FILE, Policy, load_policy
from app.services.notices.render import render_notice
from app.workflows.notices import NoticeFacts, NoticeKind, notice_context
from tests.test_notice_templates import EXTRA, facts

REFERENCE = "DSR-2612-0ZYSHKG2"  # the reference as issued: 17 characters


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(DEFAULT_POLICY_FILE)


def sms_for(
    policy: Policy, case: str, *, lms: bool, chat: bool = False, staff: bool = False, **changes: Any
) -> str:
    kind, request_type, extra = EXTRA[case]
    base: NoticeFacts = replace(
        facts(request_type, **{**extra, **changes}),
        reference=REFERENCE,
        chat=chat,
        filed_by_staff=staff,
    )
    return render_notice(kind, notice_context(kind, base, policy), lms=lms).sms


def euc_kr_bytes(text: str) -> int:
    return len(text.encode("euc-kr"))  # strict: a character EUC-KR lacks fails the test


# The one-time code and a reissued access code carry their code, not "a notice is ready".
CODE_KINDS = {"verification_code", "access_code"}


@pytest.mark.parametrize("case", sorted(EXTRA))
@pytest.mark.parametrize("staff", [False, True])
def test_every_sms_fits_one_sms_without_lms(policy: Policy, case: str, staff: bool) -> None:
    text = sms_for(
        policy, case, lms=False, staff=staff, status_url="https://rights.example.com/status"
    )
    assert euc_kr_bytes(text) <= 90, (case, euc_kr_bytes(text), text)
    assert message_type(text) == "SMS"
    assert "\n" not in text


def test_the_code_fits_one_sms_for_a_chat_too(policy: Policy) -> None:
    for lms in (False, True):
        text = sms_for(policy, "verification_code", lms=lms, chat=True)
        assert "482913" in text and "채널톡" in text and "무시" in text
        assert euc_kr_bytes(text) <= 90, text


@pytest.mark.parametrize("case", sorted(set(EXTRA) - CODE_KINDS))
def test_a_notice_ready_sms_names_the_reference_and_where_to_read_it(
    policy: Policy, case: str
) -> None:
    text = sms_for(policy, case, lms=False)
    assert REFERENCE in text and "안내문" in text and "요청 조회" in text
    assert text.startswith("[(주)케어랩스]")


@pytest.mark.parametrize("case", sorted(set(EXTRA) - CODE_KINDS))
def test_with_lms_allowed_the_longer_text_is_an_lms(policy: Policy, case: str) -> None:
    text = sms_for(policy, case, lms=True, status_url="https://rights.example.com/status")
    assert "https://rights.example.com/status" in text and "문의:" in text
    assert euc_kr_bytes(text) > 90 and message_type(text) == "LMS"


def outgoing(text: str) -> Outgoing:
    return Outgoing(
        notice_id=1,
        key="n-1",
        channel="sms",
        to="01000000000",
        subject="",
        body=text,
        reference=REFERENCE,
        kind="receipt",
    )


class Gateway:
    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []

    def post(self, url: str, *, json: dict[str, Any], **_: Any) -> httpx.Response:
        self.posted.append(json)
        return httpx.Response(200, request=httpx.Request("POST", url))


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Gateway:
    fake = Gateway()
    monkeypatch.setattr(httpx, "post", fake.post)
    return fake


def test_the_gateway_is_told_the_type(gateway: Gateway) -> None:
    short, long = "가" * 45, "가" * 46  # 90 and 92 bytes
    HttpSmsTransport("http://sms.test/send", timeout=1, allow_lms=True).send(outgoing(short))
    HttpSmsTransport("http://sms.test/send", timeout=1, allow_lms=True).send(outgoing(long))
    assert [p["type"] for p in gateway.posted] == ["SMS", "LMS"]
    assert gateway.posted[0]["text"] == short


def test_a_long_text_is_refused_not_sent_as_lms_by_accident(gateway: Gateway) -> None:
    transport = HttpSmsTransport("http://sms.test/send", timeout=1)
    with pytest.raises(PermanentDeliveryError):
        transport.send(outgoing("가" * 46))
    transport.send(outgoing("가" * 45))
    assert [p["type"] for p in gateway.posted] == ["SMS"]


def test_kinds_are_all_covered() -> None:
    assert {kind for kind, _, _ in EXTRA.values()} == set(NoticeKind)
