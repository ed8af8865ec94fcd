"""Real local peers for delivery tests: an SMTP server (aiosmtpd) and an HTTP SMS gateway."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes
    session: int = 0  # which SMTP connection it came on (one number per connection)


@dataclass
class MailHandler:
    received: list[Received] = field(default_factory=list)
    # Replies to RCPT TO, one per try, before the server accepts recipients again (e.g.
    # "451 4.3.0 ..." for a greylisting server, "550 5.1.1 ..." for an unknown mailbox).
    rcpt_replies: list[str] = field(default_factory=list)
    rcpt_tried: list[str] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        self.rcpt_tried.append(address)
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        msg = message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.received.append(
            Received(str(envelope.mail_from), list(envelope.rcpt_tos), msg, raw, id(session))
        )
        return "250 OK"


class SmtpServer:
    """aiosmtpd on 127.0.0.1; optionally STARTTLS with a self-signed certificate and AUTH,
    and SMTPUTF8 (RFC 6531) for internationalised addresses."""

    def __init__(
        self,
        port: int | None = None,
        *,
        tls_dir: Path | None = None,
        login: tuple[str, str] | None = None,
        implicit_tls: bool = False,
        smtputf8: bool = False,
    ) -> None:
        self.port = port or free_port()
        self.handler = MailHandler()
        self.login = login
        self.authenticated: list[str] = []
        self.cert_file: Path | None = None
        kwargs: dict[str, Any] = {}
        if tls_dir is not None:
            self.cert_file, key_file = self_signed(tls_dir)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.cert_file, key_file)
            if implicit_tls:
                kwargs.update(ssl_context=context)
            else:
                kwargs.update(tls_context=context, require_starttls=True)
        if login is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=True)
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            server_hostname="localhost",
            enable_SMTPUTF8=smtputf8,
            **kwargs,
        )

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and self.login == (
            auth_data.login.decode(),
            auth_data.password.decode(),
        )
        if ok:
            self.authenticated.append(auth_data.login.decode())
        return AuthResult(success=ok)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 'localhost' and 127.0.0.1 that the client is told to trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class SmsGateway:
    """A fake SMS vendor speaking JSON over real HTTP; answers with `status` (default 200)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length))
                gateway.requests.append({"json": body, "headers": dict(self.headers)})
                self.send_response(gateway.status)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> SmsGateway:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


ROOT = Path(__file__).resolve().parents[1]
SERVE = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1"]


class ServerProcess:
    """`rightsdesk serve` in its own session (process group), output into a log file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.pgid: int | None = None
        self.url = ""

    def start(self) -> str:
        port = free_port()
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [*SERVE, "--port", str(port)],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pgid = os.getpgid(self.proc.pid)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"server exited at start-up:\n{self.tail()}"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self.url
            time.sleep(0.05)
        raise AssertionError(f"server did not answer within 20 s:\n{self.tail()}")

    def signal_group(self, sig: signal.Signals, timeout: float) -> int:
        assert self.proc is not None and self.pgid is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, sig)
        code = self.proc.wait(timeout)
        self.proc = None
        return code

    def kill(self) -> None:
        """SIGKILL to the whole group: no shutdown code of ours runs."""
        assert self.signal_group(signal.SIGKILL, 10) == -signal.SIGKILL

    def stop(self) -> None:
        """SIGTERM: uvicorn shuts the app down (the worker stops between notices), then
        re-raises the signal, so the exit status is -SIGTERM either way; the log tells."""
        code = self.signal_group(signal.SIGTERM, 20)
        clean = "Application shutdown complete" in self.tail(5)
        assert code == -signal.SIGTERM and clean, f"unclean stop ({code}):\n{self.tail()}"

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def uvicorn_in_thread(app: Any, **options: Any) -> Iterator[str]:
    """`app` served by a real uvicorn in a thread on a free loopback port; yields its URL."""
    import uvicorn

    options.setdefault("host", "127.0.0.1")
    options.setdefault("log_level", "warning")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)  # polls uvicorn's own "started" flag, with a deadline
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
