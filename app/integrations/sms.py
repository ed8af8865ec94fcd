"""SMS through the company's SMS vendor (a processor in the policy), as a JSON POST."""

from __future__ import annotations

import httpx

from app.integrations.delivery import Outgoing, PermanentDeliveryError, classify

# One SMS carries 90 bytes of EUC-KR (a Hangul syllable takes 2); longer goes as an LMS.
SMS_MAX_BYTES = 90


def sms_bytes(text: str) -> int:
    """The length carriers count: EUC-KR bytes. CP949 is its superset, so the Hangul
    syllables EUC-KR lacks count as the 2 bytes they take there too."""
    return len(text.encode("cp949", errors="replace"))


def message_type(text: str) -> str:
    """ "SMS" when the text fits one SMS, else "LMS"."""
    return "SMS" if sms_bytes(text) <= SMS_MAX_BYTES else "LMS"


class HttpSmsTransport:
    """POST {url} with {"to", "text", "type", "reference", "message_id"}; any 2xx is accepted.

    `type` says what is sent, "SMS" or "LMS": a text longer than one SMS goes as an LMS only
    when `allow_lms` (setting SMS_ALLOW_LMS); otherwise it is refused, never sent by accident.
    The Idempotency-Key header carries the notice's stable key so the gateway can drop a
    retry of a message it already took.
    """

    name = "sms"

    def __init__(
        self, url: str, *, timeout: float, token: str | None = None, allow_lms: bool = False
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.allow_lms = allow_lms
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def send(self, message: Outgoing) -> None:
        kind = message_type(message.body)
        if kind == "LMS" and not self.allow_lms:
            raise PermanentDeliveryError("text longer than one SMS and SMS_ALLOW_LMS is off")
        payload = {
            "to": message.to,
            "text": message.body,
            "type": kind,
            "reference": message.reference,
            "message_id": message.key,
        }
        try:
            response = httpx.post(
                self.url,
                json=payload,
                headers={**self.headers, "Idempotency-Key": message.key},
                timeout=self.timeout,
            )
            response.raise_for_status()
        except Exception as exc:
            raise classify(exc) from None
