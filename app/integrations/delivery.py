"""What every transport receives and the two ways a delivery can fail."""

from __future__ import annotations

import errno
import smtplib
import socket
from dataclasses import dataclass
from typing import Protocol

import httpx


@dataclass(frozen=True)
class Outgoing:
    notice_id: int
    # Stable across retries: becomes the Message-ID / Idempotency-Key downstream.
    key: str
    channel: str  # email | sms
    to: str
    subject: str
    body: str
    reference: str
    kind: str
    # A one-time code's notice: the body with the code masked (what the stored notice keeps
    # after delivery). Only the recipient's own channel gets `body`; copies kept for people
    # to read (the development mail drop) get this.
    redacted_body: str | None = None


class DeliveryError(Exception):
    """`reason` is safe to log and store: it never contains an address or message text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientDeliveryError(DeliveryError):
    """Try again later (server down, timeout, 4xx from SMTP)."""


class PermanentDeliveryError(DeliveryError):
    """Trying again will not help (address refused, 5xx on the message)."""


class Transport(Protocol):
    name: str

    def send(self, message: Outgoing) -> None: ...


def classify(exc: BaseException) -> DeliveryError:
    """Map a transport exception to a delivery error with a reason free of personal data."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        # Every recipient was refused; the codes say whether for now or for good. A 4xx
        # (greylisting, a full mailbox, a busy server) is tried again with the outbox's
        # backoff; any 5xx means trying again will not help.
        codes = sorted({code for code, _ in exc.recipients.values()}, reverse=True)
        worst = codes[0] if codes else 550
        cls = TransientDeliveryError if 400 <= worst < 500 else PermanentDeliveryError
        return cls(f"SMTP recipient refused {worst}")
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        cls = PermanentDeliveryError if 500 <= code < 600 else TransientDeliveryError
        return cls(f"SMTP {code}")
    if isinstance(exc, smtplib.SMTPException):
        return TransientDeliveryError(f"SMTP {type(exc).__name__}")
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        retry = status >= 500 or status in (408, 425, 429)
        return (TransientDeliveryError if retry else PermanentDeliveryError)(f"HTTP {status}")
    if isinstance(exc, httpx.TransportError):
        return TransientDeliveryError(f"HTTP {type(exc).__name__}")
    if isinstance(exc, ConnectionRefusedError):
        return TransientDeliveryError("connection refused")
    if isinstance(exc, TimeoutError | socket.timeout):
        return TransientDeliveryError("timeout")
    if isinstance(exc, OSError):
        return TransientDeliveryError(f"OS error {errno.errorcode.get(exc.errno or 0, '')}".strip())
    return TransientDeliveryError(type(exc).__name__)
