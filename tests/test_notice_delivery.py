"""Notices leave through real transports: SMTP (aiosmtpd), an HTTP SMS gateway, .eml files."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.db import transaction
from app.integrations.delivery import Outgoing, TransientDeliveryError
from app.models.notice import Notice, NoticeAttempt
from app.models.request import Event, Request
from app.runtime import Runtime
from app.services.notices.batch import Outcome, claim, finish
from app.services.notices.outbox import Outbox, retry_delay
from app.services.notices.queue import queue_notice
from app.settings import Settings
from app.workflows.notices import NoticeKind
from tests.conftest import Clock, request_body, subject
from tests.factories import file
from tests.servers import SmsGateway, SmtpServer, free_port

SMTP_PORT = "smtp_port"


def if_match(client: TestClient, ref: str, headers: dict[str, str]) -> dict[str, str]:
    """Staff headers for a write on the request: its current version as If-Match."""
    etag = client.get(f"/v1/staff/requests/{ref}", headers=headers).headers["etag"]
    return {**headers, "If-Match": etag}


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def settings_overrides(smtp_port: int) -> dict[str, Any]:
    return {
        "smtp_url": f"smtp://127.0.0.1:{smtp_port}",
        "mail_from": "케어랩스 정보보안팀 <privacy@carelabs.example>",
        "notice_max_attempts": 3,
        "smtp_timeout_seconds": 5,
    }


@pytest.fixture
def smtp(smtp_port: int) -> Iterator[SmtpServer]:
    server = SmtpServer(smtp_port).start()
    yield server
    server.stop()


@pytest.fixture
def outbox(runtime: Runtime) -> Outbox:
    return Outbox(runtime, rng=random.Random(7))


def notices(db: Session, kind: str | None = "receipt") -> list[Notice]:
    """The notices of a kind (a self-filed request also gets a verification-code notice)."""
    db.expire_all()
    rows = db.exec(select(Notice).order_by(Notice.id)).all()  # type: ignore[arg-type]
    return [n for n in rows if kind is None or n.kind == kind]


def mail(server: SmtpServer, kind: str = "receipt") -> list[Any]:
    return [m for m in server.received if m.message["X-RightsDesk-Notice"] == kind]


def test_receipt_arrives_over_smtp_in_korean(
    client: TestClient, smtp: SmtpServer, outbox: Outbox, db: Session
) -> None:
    created = file(client, request_body()).json()
    assert outbox.run_once() == 2  # the receipt and the verification code
    assert len(mail(smtp)) == 1 and len(mail(smtp, "verification_code")) == 1
    got = mail(smtp)[0]
    assert got.rcpt_tos == ["kim.gasang@example.com"]
    msg = got.message
    assert created["reference"] in msg["Subject"]
    assert "접수" in msg["Subject"]  # the UTF-8 subject decodes back to Korean
    assert msg["From"].addresses[0].display_name == "케어랩스 정보보안팀"
    assert msg["From"].addresses[0].addr_spec == "privacy@carelabs.example"
    assert b"=?utf-8?" in got.raw.lower()  # and it was sent RFC 2047-encoded
    body = msg.get_content()
    assert msg.get_content_charset() == "utf-8"
    assert created["reference"] in body and "2026년 12월 28일" in body
    assert created["access_code"] not in got.raw.decode("ascii", "replace")
    assert msg["Message-ID"].startswith("<rightsdesk-notice-")
    [notice] = notices(db)
    assert notice.status == "delivered" and notice.attempts == 1
    assert outbox.run_once() == 0  # nothing left, nothing sent twice
    assert len(smtp.received) == 2


def test_notices_wait_while_smtp_is_down_and_go_once_it_is_back(
    client: TestClient, smtp_port: int, outbox: Outbox, clock: Clock, db: Session
) -> None:
    file(client, request_body())
    assert outbox.run_once() == 2  # connection refused, for the receipt and the code
    [notice] = notices(db)
    assert notice.status == "pending" and notice.attempts == 1
    assert notice.last_error == "connection refused"
    assert notice.next_attempt_at > clock()
    assert outbox.run_once() == 0  # backing off: not due yet

    server = SmtpServer(smtp_port).start()
    try:
        clock.advance(hours=2)
        assert outbox.run_once() == 2
        clock.advance(hours=2)
        assert outbox.run_once() == 0
        assert len(mail(server)) == 1 and len(server.received) == 2
    finally:
        server.stop()
    [notice] = notices(db)
    assert notice.status == "delivered" and notice.attempts == 2
    attempts = db.exec(
        select(NoticeAttempt)
        .where(NoticeAttempt.notice_id == notice.id)
        .order_by(NoticeAttempt.number)  # type: ignore[arg-type]
    ).all()
    assert [a.outcome for a in attempts] == ["retry", "delivered"]


def test_after_the_attempt_limit_staff_see_failed_and_can_resend(
    client: TestClient,
    smtp_port: int,
    outbox: Outbox,
    clock: Clock,
    db: Session,
    staff_headers: Callable[..., dict[str, str]],
) -> None:
    created = file(client, request_body()).json()
    ref = created["reference"]
    for _ in range(3):
        outbox.run_once()
        clock.advance(hours=2)
    h = staff_headers("security")
    listed = client.get(f"/v1/staff/requests/{ref}/notices", headers=h).json()["items"]
    assert [(n["kind"], n["status"], n["attempts"]) for n in listed] == [
        ("receipt", "failed", 3),
        ("verification_code", "failed", 3),
    ]
    assert listed[0]["last_error"] == "connection refused"
    assert listed[0]["recipient"] == "kim.gasang@example.com"
    kinds = [e.kind for e in db.exec(select(Event).order_by(Event.seq)).all()]  # type: ignore[arg-type]
    assert kinds == [
        "filed",
        "notice_queued",
        "notice_queued",
        "code_sent",
        "notice_failed",
        "notice_failed",
    ]
    mine = client.get(f"/v1/requests/{ref}", headers={"X-Access-Code": created["access_code"]})
    assert [(n["kind"], n["sent_at"], n["status"]) for n in mine.json()["notices"]] == [
        ("receipt", None, "failed"),
        ("verification_code", None, "failed"),
    ]

    again = client.post(
        f"/v1/staff/requests/{ref}/notices/{listed[0]['id']}/resend",
        headers=if_match(client, ref, h),
    )
    assert again.status_code == 202 and again.json()["status"] == "pending"
    server = SmtpServer(smtp_port).start()
    try:
        assert outbox.run_once() == 1
    finally:
        server.stop()
    assert len(server.received) == 1
    listed = client.get(f"/v1/staff/requests/{ref}/notices", headers=h).json()["items"]
    assert [n["status"] for n in listed] == ["failed", "failed", "delivered"]
    assert listed[2]["resend_of"] == listed[0]["id"]
    mine = client.get(f"/v1/requests/{ref}", headers={"X-Access-Code": created["access_code"]})
    assert [n["sent_at"] is not None for n in mine.json()["notices"]] == [False, False, True]
    assert set(mine.json()["notices"][0]) == {
        "kind",
        "sent_at",
        "created_at",
        "channel",
        "status",
        "subject",
        "body",
    }


def test_resend_of_a_pending_notice_is_refused(
    client: TestClient, db: Session, staff_headers: Callable[..., dict[str, str]]
) -> None:
    ref = file(client, request_body()).json()["reference"]
    [notice] = notices(db)
    resp = client.post(
        f"/v1/staff/requests/{ref}/notices/{notice.id}/resend",
        headers=if_match(client, ref, staff_headers()),
    )
    assert resp.status_code == 409 and resp.json()["code"] == "notice_pending"


def test_two_workers_never_send_the_same_notice(
    client: TestClient, runtime: Runtime, db: Session
) -> None:
    for _ in range(6):
        file(client, request_body())
    sent: list[int] = []
    lock = threading.Lock()

    class Slow:
        name = "slow"

        def send(self, message: Outgoing) -> None:
            time.sleep(0.05)
            with lock:
                sent.append(message.notice_id)

    workers = [Outbox(runtime, {"email": Slow(), "sms": Slow()}) for _ in range(2)]
    threads = [threading.Thread(target=w.run_once) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    everything = notices(db, kind=None)
    assert len(everything) == 12
    assert sorted(sent) == sorted({n.id for n in everything})  # type: ignore[type-var]
    assert all(n.status == "delivered" and n.attempts == 1 for n in everything)


def test_a_worker_that_died_mid_send_is_taken_over_after_its_lease(
    client: TestClient,
    smtp: SmtpServer,
    runtime: Runtime,
    outbox: Outbox,
    clock: Clock,
    db: Session,
) -> None:
    file(client, request_body())
    [notice] = notices(db)
    assert len(claim(runtime, outbox.transports, 20)) == 2  # claimed, then the process "died"
    assert outbox.run_once() == 0  # the receipt and the code are leased to the dead worker
    assert smtp.received == []
    clock.advance(seconds=runtime.settings.notice_lease_seconds + 1)
    assert outbox.run_once() == 2
    assert len(mail(smtp)) == 1
    # The retry carries the notice's stable Message-ID, so a downstream copy is recognisable.
    assert mail(smtp)[0].message["Message-ID"].startswith(f"<rightsdesk-notice-{notice.id}@")


def test_queueing_the_same_notice_twice_keeps_one(
    client: TestClient, runtime: Runtime, db: Session
) -> None:
    file(client, request_body())
    with transaction(runtime.engine) as session:
        request = session.exec(select(Request)).one()
        first = queue_notice(
            session, runtime, request, NoticeKind.RECEIPT, extra={"next_action": "verify_contact"}
        )
        second = queue_notice(
            session, runtime, request, NoticeKind.RECEIPT, extra={"next_action": "verify_contact"}
        )
        assert first.id == second.id
    assert len(notices(db)) == 1


def test_logs_name_references_and_kinds_never_people(
    client: TestClient,
    smtp_port: int,
    outbox: Outbox,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    ref = file(client, request_body(subject=subject(phone="010-5555-6666"))).json()["reference"]
    outbox.run_once()  # fails: server down
    server = SmtpServer(smtp_port).start()
    try:
        clock.advance(hours=2)
        outbox.run_once()
    finally:
        server.stop()
    # Everything this process logged, except the test SMTP server's own protocol trace.
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]
    text = "\n".join(f"{r.name} {r.getMessage()}" for r in ours)
    assert "rightsdesk.outbox" in text
    assert ref in text and "receipt" in text
    for personal in ("kim.gasang", "example.com", "김가상", "5555", "1990-05-01"):
        assert personal not in text, personal


def test_retry_delay_grows_with_jitter_and_is_capped() -> None:
    rng = random.Random(1)
    delays = [retry_delay(n, base=30, cap=3600, rng=rng) for n in range(1, 12)]
    for n, d in enumerate(delays, start=1):
        ceiling = min(3600, 30 * 2 ** (n - 1))
        assert ceiling / 2 <= d <= ceiling
    assert max(delays) <= 3600 and delays[-1] >= 1800


class TestStartTlsAndLogin:
    @pytest.fixture
    def tls_server(self, smtp_port: int, tmp_path: Path) -> Iterator[SmtpServer]:
        server = SmtpServer(smtp_port, tls_dir=tmp_path / "tls", login=("rightsdesk", "s3cret"))
        server.start()
        yield server
        server.stop()

    @pytest.fixture
    def settings_overrides(self, smtp_port: int, tls_server: SmtpServer) -> dict[str, Any]:
        return {
            "smtp_url": f"smtp://rightsdesk:s3cret@localhost:{smtp_port}?starttls=true",
            "smtp_ca_file": tls_server.cert_file,
            "smtp_timeout_seconds": 5,
        }

    def test_starttls_then_login(
        self, client: TestClient, tls_server: SmtpServer, outbox: Outbox, db: Session
    ) -> None:
        file(client, request_body())
        outbox.run_once()
        assert set(tls_server.authenticated) == {"rightsdesk"}
        assert len(mail(tls_server)) == 1
        assert notices(db)[0].status == "delivered"


class TestImplicitTls:
    @pytest.fixture
    def tls_server(self, smtp_port: int, tmp_path: Path) -> Iterator[SmtpServer]:
        server = SmtpServer(smtp_port, tls_dir=tmp_path / "tls", implicit_tls=True)
        server.start()
        yield server
        server.stop()

    @pytest.fixture
    def settings_overrides(self, smtp_port: int, tls_server: SmtpServer) -> dict[str, Any]:
        return {
            "smtp_url": f"smtps://localhost:{smtp_port}",
            "smtp_ca_file": tls_server.cert_file,
            "smtp_timeout_seconds": 5,
        }

    def test_smtps(
        self, client: TestClient, tls_server: SmtpServer, outbox: Outbox, db: Session
    ) -> None:
        file(client, request_body())
        outbox.run_once()
        assert len(mail(tls_server)) == 1
        assert notices(db)[0].status == "delivered"

    def test_an_untrusted_certificate_is_not_accepted(
        self, client: TestClient, tls_server: SmtpServer, runtime: Runtime, db: Session
    ) -> None:
        from app.services.notices.outbox import transports_for

        untrusted = runtime.settings.model_copy(update={"smtp_ca_file": None})
        file(client, request_body())
        Outbox(runtime, transports_for(untrusted)).run_once()
        assert tls_server.received == []
        assert notices(db)[0].status == "pending"


class TestSmsGateway:
    @pytest.fixture
    def gateway(self) -> Iterator[SmsGateway]:
        gw = SmsGateway().start()
        yield gw
        gw.stop()

    @pytest.fixture
    def settings_overrides(self, gateway: SmsGateway) -> dict[str, Any]:
        return {"sms_url": gateway.url, "sms_token": "gw-token", "notice_max_attempts": 3}

    def sms_body(self) -> dict[str, Any]:
        return request_body(subject=subject(email=None, phone="010-4444-3333"))

    def test_sms_goes_to_the_gateway_as_json(
        self, client: TestClient, gateway: SmsGateway, outbox: Outbox, db: Session
    ) -> None:
        ref = file(client, self.sms_body()).json()["reference"]
        assert outbox.run_once() == 2
        sent, code = gateway.requests
        assert "인증번호" in code["json"]["text"]
        assert sent["json"]["to"] == "010-4444-3333"
        assert ref in sent["json"]["text"] and sent["json"]["reference"] == ref
        assert sent["headers"]["Authorization"] == "Bearer gw-token"
        assert sent["headers"]["Idempotency-Key"] == sent["json"]["message_id"]
        assert notices(db)[0].channel == "sms" and notices(db)[0].status == "delivered"

    def test_gateway_errors_retry_or_fail(
        self,
        client: TestClient,
        gateway: SmsGateway,
        outbox: Outbox,
        clock: Clock,
        db: Session,
    ) -> None:
        file(client, self.sms_body())
        gateway.status = 503
        outbox.run_once()
        assert notices(db)[0].status == "pending" and notices(db)[0].last_error == "HTTP 503"
        gateway.status = 400  # the vendor refuses the message: retrying will not help
        clock.advance(hours=2)
        outbox.run_once()
        [notice] = notices(db)
        assert notice.status == "failed" and notice.attempts == 2


class TestEmbeddedDefault:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"embedded_worker": True, "worker_poll_seconds": 0.1}

    def test_without_smtp_messages_are_written_as_eml_files(
        self, client: TestClient, settings: Any
    ) -> None:
        ref = file(client, request_body()).json()["reference"]
        deadline = time.monotonic() + 10
        files: list[Path] = []
        while time.monotonic() < deadline and not files:
            files = list(settings.mail_dir.glob(f"{ref}-receipt-*.eml"))
            time.sleep(0.05)
        assert len(files) == 1, "the embedded worker wrote no .eml file"
        msg = message_from_bytes(files[0].read_bytes(), policy=policy.default)
        assert ref in msg["Subject"] and msg["To"] == "kim.gasang@example.com"
        assert "2026년 12월 28일" in msg.get_content()  # type: ignore[attr-defined]
        # Readable as it is, in a text editor, not only in a mail program.
        assert "2026년 12월 28일" in files[0].read_text(encoding="utf-8")


def test_receipt_of_a_letter_says_staff_give_the_access_code(
    client: TestClient,
    smtp: SmtpServer,
    outbox: Outbox,
    staff_headers: Callable[..., dict[str, str]],
) -> None:
    body = request_body(channel="letter", received_at="2026-12-14T16:00:00+09:00")
    assert client.post("/v1/staff/requests", json=body, headers=staff_headers()).status_code == 201
    file(client, request_body())
    outbox.run_once()
    letter, web = (m.message.get_content() for m in mail(smtp))
    assert "담당자가 따로 알려 드립니다" in letter and "화면에 표시된" not in letter
    assert "화면에 표시된 확인코드" in web


class TestStatusLink:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"public_base_url": "https://privacy.example.com/"}

    def test_notices_link_to_the_status_page_without_the_code(
        self, client: TestClient, runtime: Runtime, db: Session
    ) -> None:
        created = file(client, request_body()).json()
        [receipt] = notices(db)
        body = runtime.vault.decrypt(receipt.body_enc, field="notice.body")
        assert "https://privacy.example.com/status" in body
        assert created["access_code"] not in body


def test_a_lease_shorter_than_the_slowest_send_is_warned_about_at_start(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from app.runtime import build_runtime

    assert settings.notice_lease_seconds > settings.slowest_send_seconds * 1.1  # the default
    short = settings.model_copy(update={"notice_lease_seconds": 60})  # Channel Talk: ~5 min
    with caplog.at_level(logging.WARNING, logger="rightsdesk"):
        build_runtime(short).engine.dispose()
    assert "shorter than the slowest send" in caplog.text


def test_an_attempt_that_outlived_its_lease_does_not_overwrite_the_new_claim(
    client: TestClient, runtime: Runtime, clock: Clock, db: Session
) -> None:
    file(client, request_body())
    first = Outbox(runtime, {"email": _Recorder(), "sms": _Recorder()})
    claimed = claim(runtime, first.transports, 20)
    assert len(claimed) == 2
    clock.advance(seconds=runtime.settings.notice_lease_seconds + 1)  # the first worker stalls
    second = Outbox(runtime, {"email": _Recorder(), "sms": _Recorder()})
    assert second.run_once() == 2
    late = [Outcome(c, TransientDeliveryError("late"), clock()) for c in claimed]
    finish(runtime, late, [], random.Random(1))
    db.expire_all()
    notice = notices(db)[0]
    assert (notice.status, notice.attempts) == ("delivered", 2)
    outcomes = db.exec(
        select(NoticeAttempt.outcome)
        .where(NoticeAttempt.notice_id == notice.id)
        .order_by(NoticeAttempt.number)  # type: ignore[arg-type]
    ).all()
    assert outcomes == ["retry", "delivered"]


class _Recorder:
    name = "recorder"

    def send(self, message: Outgoing) -> None:
        pass


class TestRecipientReplies:
    """RCPT TO answers: 4xx (greylisting, a full mailbox) is tried again, 5xx is final."""

    def test_a_greylisted_receipt_is_delivered_on_the_retry(
        self, client: TestClient, smtp: SmtpServer, outbox: Outbox, clock: Clock, db: Session
    ) -> None:
        file(client, request_body())
        # The greylisting server defers the first try of each message.
        smtp.handler.rcpt_replies = ["451 4.3.0 Greylisted, try again later"] * 2
        assert outbox.run_once() == 2
        for kind in ("receipt", "verification_code"):
            [notice] = notices(db, kind)
            assert (notice.status, notice.attempts) == ("pending", 1), kind
            assert notice.last_error == "SMTP recipient refused 451"
        assert smtp.received == []
        clock.advance(hours=2)
        assert outbox.run_once() == 2
        assert len(mail(smtp)) == 1 and len(mail(smtp, "verification_code")) == 1
        assert all(n.status == "delivered" for n in notices(db, kind=None))

    def test_an_unknown_mailbox_fails_at_once(
        self, client: TestClient, smtp: SmtpServer, outbox: Outbox, clock: Clock, db: Session
    ) -> None:
        file(client, request_body())
        smtp.handler.rcpt_replies = ["550 5.1.1 No such user"] * 2
        outbox.run_once()
        [notice] = notices(db)
        assert (notice.status, notice.attempts) == ("failed", 1)
        assert notice.last_error == "SMTP recipient refused 550"
        clock.advance(hours=2)
        assert outbox.run_once() == 0
        assert len(smtp.handler.rcpt_tried) == 2  # one try each, never again


HANGUL_ADDRESS = "홍길동@예시.한국"  # synthetic: a Hangul local part at a Hangul IDN domain
HANGUL_ACE = "홍길동@xn--vv4b11d.xn--3e0b707e"  # what goes on the wire: the domain as A-labels


class TestInternationalisedAddresses:
    @pytest.fixture
    def settings_overrides(self, smtp_port: int) -> dict[str, Any]:
        return {
            "smtp_url": f"smtp://127.0.0.1:{smtp_port}",
            "smtp_utf8": True,
            "notice_max_attempts": 3,
            "smtp_timeout_seconds": 5,
        }

    def start(self, smtp_port: int, *, smtputf8: bool) -> SmtpServer:
        return SmtpServer(smtp_port, smtputf8=smtputf8).start()

    def test_sent_with_smtputf8_when_the_server_offers_it(
        self, client: TestClient, smtp_port: int, outbox: Outbox, db: Session
    ) -> None:
        created = file(client, request_body(subject=subject(email=HANGUL_ADDRESS)))
        assert created.status_code == 201, created.text
        server = self.start(smtp_port, smtputf8=True)
        try:
            assert outbox.run_once() == 2
        finally:
            server.stop()
        [got] = mail(server)
        assert got.rcpt_tos == [HANGUL_ACE]
        # RFC 6532: the header is UTF-8 as it is (never an RFC 2047 word inside an address).
        assert f"\nTo: {HANGUL_ACE}\r\n".encode() in got.raw
        assert all(n.status == "delivered" for n in notices(db, kind=None))

    def test_without_smtputf8_the_notice_fails_at_once_with_the_reason(
        self, client: TestClient, smtp_port: int, outbox: Outbox, clock: Clock, db: Session
    ) -> None:
        file(client, request_body(subject=subject(email=HANGUL_ADDRESS)))
        server = self.start(smtp_port, smtputf8=False)
        try:
            outbox.run_once()
            clock.advance(hours=2)
            assert outbox.run_once() == 0  # nothing left to retry
        finally:
            server.stop()
        assert server.received == []
        for notice in notices(db, kind=None):
            assert (notice.status, notice.attempts) == ("failed", 1)
            assert notice.last_error == "SMTP server does not offer SMTPUTF8"

    def test_an_ascii_mailbox_at_an_idn_domain_needs_no_smtputf8(
        self, client: TestClient, smtp_port: int, outbox: Outbox, db: Session
    ) -> None:
        file(client, request_body(subject=subject(email="hong@예시.한국")))
        server = self.start(smtp_port, smtputf8=False)
        try:
            assert outbox.run_once() == 2
        finally:
            server.stop()
        [got] = mail(server)
        assert got.rcpt_tos == ["hong@xn--vv4b11d.xn--3e0b707e"]
        assert all(n.status == "delivered" for n in notices(db, kind=None))


class TestInternationalisedAddressesRefusedAtIntake:
    """Without SMTP_UTF8 the relay is not known to carry a non-ASCII mailbox name: intake
    says so at once, instead of accepting a request whose notices can never arrive."""

    def test_a_hangul_mailbox_is_refused_naming_the_field(self, client: TestClient) -> None:
        resp = file(client, request_body(subject=subject(email=HANGUL_ADDRESS)))
        assert resp.status_code == 422
        assert resp.headers["content-type"].startswith("application/problem+json")
        problem = resp.json()
        assert problem["code"] == "email_not_deliverable"
        [error] = problem["errors"]
        assert error["field"] == "subject.email" and error["code"] == "email_not_deliverable"
        assert "이메일" in error["message"]
        assert HANGUL_ADDRESS not in resp.text  # the address is not echoed

    def test_a_representatives_hangul_mailbox_is_refused_too(self, client: TestClient) -> None:
        body = request_body(
            subject=subject(email=None, phone="010-4444-3333"),
            requester={
                "relationship": "legal_representative",
                "name": "홍부모",
                "birth_date": "1970-01-01",
                "email": HANGUL_ADDRESS,
            },
        )
        resp = file(client, body)
        assert resp.status_code == 422
        assert [e["field"] for e in resp.json()["errors"]] == ["requester.email"]

    def test_an_idn_domain_alone_is_accepted(self, client: TestClient) -> None:
        resp = file(client, request_body(subject=subject(email="hong@예시.한국")))
        assert resp.status_code == 201


class TestInternationalisedAddressesInTheMailDrop:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {}  # no SMTP: the .eml files carry any address

    def test_accepted_and_written(
        self, client: TestClient, outbox: Outbox, settings: Settings, db: Session
    ) -> None:
        ref = file(client, request_body(subject=subject(email=HANGUL_ADDRESS))).json()["reference"]
        outbox.run_once()
        [path] = settings.mail_dir.glob(f"{ref}-receipt-*.eml")
        assert f"\nTo: {HANGUL_ADDRESS}\n" in path.read_text(encoding="utf-8")
        assert notices(db)[0].status == "delivered"


class TestStaffResend:
    """A resend is one copy per original at a time, and a code is never sent twice."""

    def fail_everything(
        self, client: TestClient, outbox: Outbox, clock: Clock, before: Callable[[], Any] = list
    ) -> dict[str, Any]:
        created: dict[str, Any] = file(client, request_body()).json()
        before()
        for _ in range(3):  # SMTP is down: every notice reaches its attempt limit
            outbox.run_once()
            clock.advance(hours=2)
        return created

    def stored_code(self, runtime: Runtime, db: Session, notice_id: int) -> str:
        """The code as the outbox would send it (the stored text, before delivery)."""
        db.expire_all()
        notice = db.get(Notice, notice_id)
        assert notice is not None
        return _code_in(runtime.vault.decrypt(notice.body_enc, field="notice.body"))

    def listed(self, client: TestClient, ref: str, h: dict[str, str]) -> list[dict[str, Any]]:
        resp = client.get(f"/v1/staff/requests/{ref}/notices", headers=h)
        result: list[dict[str, Any]] = resp.json()["items"]
        return result

    def test_a_second_resend_while_the_first_is_queued_queues_nothing(
        self,
        client: TestClient,
        smtp_port: int,
        outbox: Outbox,
        clock: Clock,
        staff_headers: Callable[..., dict[str, str]],
    ) -> None:
        ref = self.fail_everything(client, outbox, clock)["reference"]
        h = staff_headers("security")
        receipt = self.listed(client, ref, h)[0]
        url = f"/v1/staff/requests/{ref}/notices/{receipt['id']}/resend"
        h = if_match(client, ref, h)  # a resend changes no version: the same If-Match twice
        first, second = client.post(url, headers=h), client.post(url, headers=h)
        assert first.status_code == second.status_code == 202
        assert second.json()["id"] == first.json()["id"]
        assert len(self.listed(client, ref, h)) == 3  # two originals, one copy
        server = SmtpServer(smtp_port).start()
        try:
            assert outbox.run_once() == 1
            assert len(mail(server)) == 1  # the requester gets one copy, not two
            # Once that copy is out, another resend is a new one.
            third = client.post(url, headers=h)
            assert third.status_code == 202 and third.json()["id"] != first.json()["id"]
        finally:
            server.stop()

    def test_a_resent_code_is_a_fresh_code_and_the_old_one_stops_working(
        self,
        client: TestClient,
        runtime: Runtime,
        db: Session,
        smtp_port: int,
        outbox: Outbox,
        clock: Clock,
        staff_headers: Callable[..., dict[str, str]],
    ) -> None:
        sent: list[str] = []
        created = self.fail_everything(
            client,
            outbox,
            clock,
            lambda: sent.append(
                self.stored_code(runtime, db, notices(db, "verification_code")[0].id or 0)
            ),
        )
        ref, access = created["reference"], {"X-Access-Code": created["access_code"]}
        h = staff_headers("security")
        original = self.listed(client, ref, h)[1]
        assert original["kind"] == "verification_code" and original["status"] == "failed"
        [old_code] = sent
        # A code that could not be delivered is not kept either.
        assert old_code not in runtime.vault.decrypt(
            db.get(Notice, original["id"]).body_enc,  # type: ignore[union-attr]
            field="notice.body",
        )
        url = f"/v1/staff/requests/{ref}/notices/{original['id']}/resend"
        h = if_match(client, ref, h)
        resent = client.post(url, headers=h)
        assert resent.status_code == 202
        copy = resent.json()
        assert copy["kind"] == "verification_code" and copy["resend_of"] == original["id"]
        new_code = self.stored_code(runtime, db, copy["id"])
        assert new_code != old_code
        # Staff never see a code, not even in the resend's answer: it proves the contact.
        listed = client.get(f"/v1/staff/requests/{ref}/notices", headers=h).text
        assert new_code not in resent.text and new_code not in listed
        assert old_code not in listed and "******" in copy["body"]
        assert client.post(url, headers=h).json()["id"] == copy["id"]  # idempotent here too
        server = SmtpServer(smtp_port).start()
        try:
            assert outbox.run_once() == 1
        finally:
            server.stop()
        [got] = mail(server, "verification_code")
        assert new_code in got.message.get_content() and old_code not in got.raw.decode()
        wrong = client.post(
            f"/v1/requests/{ref}/verification", json={"code": old_code}, headers=access
        )
        assert wrong.status_code == 422
        right = client.post(
            f"/v1/requests/{ref}/verification", json={"code": new_code}, headers=access
        )
        assert right.status_code == 200, right.text


def _code_in(body: str) -> str:
    import re

    match = re.search(r"\b(\d{6})\b", body)
    assert match is not None, "no six-digit code in the notice"
    return match.group(1)
