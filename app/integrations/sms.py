"""SMS through the company's SMS vendor (a processor in the policy), as a JSON POST."""

from __future__ import annotations

import httpx

from app.integrations.delivery import Outgoing, classify


class HttpSmsTransport:
    """POST {url} with {"to", "text", "reference", "message_id"}; any 2xx is accepted.

    The Idempotency-Key header carries the notice's stable key so the gateway can drop a
    retry of a message it already took.
    """

    name = "sms"

    def __init__(self, url: str, *, timeout: float, token: str | None = None) -> None:
        self.url = url
        self.timeout = timeout
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def send(self, message: Outgoing) -> None:
        payload = {
            "to": message.to,
            "text": message.body,
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
