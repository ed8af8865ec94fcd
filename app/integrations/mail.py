"""E-mail: the message as sent, over SMTP or into .eml files for the embedded default."""

from __future__ import annotations

import contextlib
import functools
import logging
import smtplib
import ssl
import threading
import time
from dataclasses import replace
from email.charset import BASE64, Charset
from email.header import Header
from email.message import Message
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32, compat32
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from app.integrations.delivery import Outgoing, PermanentDeliveryError, classify
from app.models.base import utcnow
from app.private_files import private_dir, write_private

log = logging.getLogger("rightsdesk.mail")


def build_email(
    message: Outgoing, mail_from: str, *, cte: str = "base64", to: str | None = None
) -> Message:
    """UTF-8 text message; headers are RFC 2047-encoded. Base64 bodies pass any SMTP server;
    files use 8bit so the Korean text reads as it is in an editor.

    `to` (default: the message's) goes into the To header as it is: an address is never
    RFC 2047-encoded (no mail program would read it), so a non-ASCII mailbox name is written
    as UTF-8 (RFC 6532), which only an SMTPUTF8 session or a file may carry.

    Built with the compat32 message classes: `email.policy.default` refolds every header
    through its parser, which cost four times as much per message as everything else here."""
    charset = Charset("utf-8")
    # None is the documented "no encoding" (8bit); the stubs only allow the int constants.
    charset.body_encoding = BASE64 if cte == "base64" else None  # type: ignore[assignment]
    msg = MIMENonMultipart("text", "plain")
    msg.set_payload(message.body, charset)
    sender, domain = _from_header(mail_from)
    msg["From"] = sender
    to = message.to if to is None else to
    # compat32 writes a str holding surrogate escapes byte for byte instead of encoding it.
    msg["To"] = to if to.isascii() else to.encode("utf-8").decode("ascii", "surrogateescape")
    # compat32 messages take a Header (email.header's documented use); the stubs say str.
    msg["Subject"] = Header(message.subject, "utf-8")  # type: ignore[assignment]
    msg["Date"] = format_datetime(utcnow())
    # The same notice always has the same Message-ID, so a retry after a crash is a duplicate
    # that mail systems recognise rather than a second message.
    msg["Message-ID"] = f"<{message.key}@{domain}>"
    msg["X-RightsDesk-Reference"] = message.reference
    msg["X-RightsDesk-Notice"] = message.kind
    return msg


@functools.lru_cache(maxsize=8)
def _from_header(mail_from: str) -> tuple[str, str]:
    """The From header for MAIL_FROM (a Korean name RFC 2047-encoded), and the domain of
    Message-IDs: worked out once, not per message."""
    name, address = parseaddr(mail_from)
    header = formataddr((name, address), charset="utf-8") if name else address
    return header, address.rpartition("@")[2] or "rightsdesk.localhost"


class SmtpTransport:
    """Sends over one SMTP connection that stays open between messages.

    A flood of filings queues two messages each; a fresh connection (TCP, TLS, EHLO, AUTH,
    QUIT) per message cost more than the message. The connection is opened at the first send,
    kept while messages follow within `idle_seconds` (RIGHTSDESK_SMTP_IDLE_SECONDS), and
    dropped after any error. A kept connection the server has closed meanwhile is opened
    again once, for the same message."""

    name = "smtp"

    def __init__(
        self,
        url: str,
        mail_from: str,
        *,
        timeout: float,
        ca_file: Path | None = None,
        idle_seconds: float = 30.0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("RIGHTSDESK_SMTP_URL must start with smtp:// or smtps://")
        query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
        self.host = parts.hostname or "localhost"
        self.implicit_tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.starttls = query.get("starttls") in ("1", "true", "yes")
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.mail_from = mail_from
        self.sender = parseaddr(mail_from)[1]  # the envelope's MAIL FROM
        self.timeout = timeout
        self.idle_seconds = idle_seconds
        self.tls = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        self._client: smtplib.SMTP | None = None
        self._last_used = 0.0
        self._lock = threading.Lock()

    def send(self, message: Outgoing) -> None:
        rcpt, needs_smtputf8 = envelope_address(message.to)
        email = build_email(message, self.mail_from, to=rcpt)
        data = email.as_bytes(policy=_SMTP_LINES)
        sender = self.sender
        with self._lock:
            try:
                kept = self._kept()
                try:
                    self._sendmail(kept or self._open(), sender, rcpt, data, needs_smtputf8)
                except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
                    if kept is None:
                        raise
                    # The kept connection had gone stale: once more on a new one.
                    log.info(
                        "SMTP connection closed by the server (%s); reconnecting",
                        type(exc).__name__,
                    )
                    self._drop()
                    self._sendmail(self._open(), sender, rcpt, data, needs_smtputf8)
                self._last_used = time.monotonic()
            except Exception as exc:
                self._drop()
                raise classify(exc) from None

    def close(self) -> None:
        with self._lock:
            self._drop(quit=True)

    def _kept(self) -> smtplib.SMTP | None:
        if self._client is not None and time.monotonic() - self._last_used > self.idle_seconds:
            self._drop(quit=True)
        return self._client

    def _open(self) -> smtplib.SMTP:
        client: smtplib.SMTP
        if self.implicit_tls:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self.tls)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        self._client = client
        if self.starttls:
            client.starttls(context=self.tls)
        if self.username:
            client.login(self.username, self.password or "")
        client.ehlo_or_helo_if_needed()
        return client

    def _drop(self, *, quit: bool = False) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        with contextlib.suppress(Exception):
            if quit:
                client.quit()
            else:
                client.close()

    @staticmethod
    def _sendmail(
        client: smtplib.SMTP, sender: str, rcpt: str, data: bytes, needs_smtputf8: bool
    ) -> None:
        options: list[str] = []
        if needs_smtputf8:
            if not client.has_extn("smtputf8"):
                # The relay cannot carry this address now or on any later try.
                raise PermanentDeliveryError("SMTP server does not offer SMTPUTF8")
            options = ["SMTPUTF8"]
            if client.has_extn("8bitmime"):
                options.append("BODY=8BITMIME")
        client.sendmail(sender, [rcpt], data, mail_options=options)


class _Lines(Compat32):
    """compat32, without its cost for the headers that need no folding: compat32 makes an
    `email.header.Header` of every header it writes and folds it, about half of the CPU an
    e-mail cost the worker. A short ASCII value on one line comes out of that unchanged, so
    it is written as it is; anything else (the Subject's Header, a long or non-ASCII value)
    goes through compat32 as before (the From header's result is kept)."""

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if (
            isinstance(value, str)
            and value.isascii()
            and len(name) + len(value) + 2 <= (self.max_line_length or 78)
            and "\n" not in value
            and "\r" not in value
        ):
            return f"{name}: {value}{self.linesep}"
        if name == "From" and isinstance(value, str):  # MAIL_FROM: the same in every message
            return _folded_from(self.linesep, value, sanitize)
        folded: str = super()._fold(name, value, sanitize)  # type: ignore[misc]
        return folded


@functools.lru_cache(maxsize=8)
def _folded_from(linesep: str, value: str, sanitize: bool) -> str:
    folded: str = compat32.clone(linesep=linesep)._fold("From", value, sanitize)  # type: ignore[attr-defined]
    return folded


# SMTP lines end in CRLF; smtplib sends bytes as they are. Files use the platform's "\n".
_SMTP_LINES = _Lines(linesep="\r\n")
_FILE_LINES = _Lines()


def envelope_address(address: str) -> tuple[str, bool]:
    """The address as SMTP carries it, and whether that needs SMTPUTF8 (RFC 6531).

    An internationalised domain travels as IDNA A-labels (xn--…), which every relay takes; a
    mailbox name (local part) that is not ASCII cannot be encoded and needs SMTPUTF8."""
    local, at, domain = address.rpartition("@")
    if not at:
        return address, not address.isascii()
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise PermanentDeliveryError("address domain is not valid IDNA") from None
    return f"{local}@{domain}", not local.isascii()


class FileTransport:
    """Writes each message as an .eml file: what would have been sent, for a person to read.

    The directory is 0700 and the files 0600. A one-time code is masked in the .eml, as in
    the stored notice: .eml files get opened, attached and copied around. With
    `reveal_codes` (development and test, never production) the code goes into a 0600
    `.code` file of the same name, so a developer, or a test, can still type it in."""

    name = "file"

    def __init__(self, directory: Path, mail_from: str, *, reveal_codes: bool = False) -> None:
        self.directory = directory
        self.mail_from = mail_from
        self.reveal_codes = reveal_codes

    def send(self, message: Outgoing) -> None:
        private_dir(self.directory)
        shown = message
        if message.redacted_body is not None:
            shown = replace(message, body=message.redacted_body)
        email = build_email(shown, self.mail_from, cte="8bit")
        # SMS land here too when no gateway is configured; To then holds the phone number.
        email["X-RightsDesk-Channel"] = message.channel
        # One file per notice, written atomically: a retry rewrites the same file.
        path = self.directory / f"{message.reference}-{message.kind}-{message.notice_id}.eml"
        secrets = masked_parts(message.body, message.redacted_body)
        if self.reveal_codes and secrets:
            write_private(path.with_suffix(".code"), "".join(s + "\n" for s in secrets).encode())
        write_private(path, email.as_bytes(policy=_FILE_LINES))


def masked_parts(body: str, redacted: str | None) -> list[str]:
    """The pieces of `body` that `redacted` masks (a masked copy has the same length and
    differs only where the secret was)."""
    if redacted is None or len(redacted) != len(body):
        return []
    parts: list[str] = []
    start: int | None = None
    for i, (a, b) in enumerate(zip(body, redacted, strict=True)):
        if a != b and start is None:
            start = i
        elif a == b and start is not None:
            parts.append(body[start:i])
            start = None
    if start is not None:
        parts.append(body[start:])
    return list(dict.fromkeys(parts))
