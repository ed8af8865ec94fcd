"""Secrets in URLs never reach the logs.

Channel Talk puts the webhook's shared secret in the query string (`?token=…`), and uvicorn's
access log prints the whole request line. A filter on the access logger (and on the root
handlers, for anything else that logs a URL) replaces the value before the record is written.
"""

from __future__ import annotations

import logging
import re

_SECRET_PARAM = re.compile(r"(?i)\b(token|access_code|code)=([^&\s\"']+)")


def redact(text: str) -> str:
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}=[redacted]", text)


def _redact_arg(value: object) -> object:
    # URLs are often logged as objects (httpx.URL); their text is what gets written.
    if isinstance(value, int | float | type(None)):
        return value
    text = str(value)
    cleaned = redact(text)
    return cleaned if cleaned != text else value


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_arg(v) for k, v in record.args.items()}
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


_FILTER = RedactSecrets()


def install_log_redaction() -> None:
    """Idempotent: the filter goes on uvicorn's loggers and on the root handlers once."""
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn", "httpx"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
