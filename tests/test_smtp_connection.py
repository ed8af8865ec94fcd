"""One SMTP connection serves a run of notices: fewer handshakes in a flood of filings, and a
connection the server closed is replaced without losing the message (a real aiosmtpd)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.integrations.delivery import Outgoing
from app.integrations.mail import SmtpTransport
from tests.servers import SmtpServer, free_port

FROM = "케어랩스 정보보안팀 <privacy@rightsdesk.localhost>"


def outgoing(n: int) -> Outgoing:
    return Outgoing(
        notice_id=n,
        key=f"rightsdesk-notice-{n}",
        channel="email",
        to=f"kim.gasang{n}@example.com",
        subject="접수 안내",
        body="요청이 접수되었습니다.",
        reference=f"DSR-20261215-TEST{n:02d}",
        kind="receipt",
    )


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def server(port: int) -> Iterator[SmtpServer]:
    smtp = SmtpServer(port).start()
    yield smtp
    smtp.stop()


def test_notices_in_a_row_share_one_connection(server: SmtpServer, port: int) -> None:
    transport = SmtpTransport(f"smtp://127.0.0.1:{port}", FROM, timeout=5, idle_seconds=30)
    for n in range(5):
        transport.send(outgoing(n))
    transport.close()
    assert len(server.received) == 5
    assert len({r.session for r in server.received}) == 1


def test_a_connection_the_server_closed_is_opened_again_for_the_same_message(
    port: int,
) -> None:
    transport = SmtpTransport(f"smtp://127.0.0.1:{port}", FROM, timeout=5, idle_seconds=30)
    first = SmtpServer(port).start()
    transport.send(outgoing(1))
    first.stop()  # the server goes away and comes back: the kept connection is dead
    second = SmtpServer(port).start()
    try:
        transport.send(outgoing(2))
    finally:
        second.stop()
    assert [r.message["X-RightsDesk-Reference"] for r in first.received] == ["DSR-20261215-TEST01"]
    assert [r.message["X-RightsDesk-Reference"] for r in second.received] == ["DSR-20261215-TEST02"]


def test_without_idle_time_each_message_has_its_own_connection(
    server: SmtpServer, port: int
) -> None:
    transport = SmtpTransport(f"smtp://127.0.0.1:{port}", FROM, timeout=5, idle_seconds=0)
    for n in range(3):
        transport.send(outgoing(n))
    assert len({r.session for r in server.received}) == 3
