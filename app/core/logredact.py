"""Secrets in URLs never reach the logs.

Channel Talk puts the webhook's shared secret in the query string (`?token=…`), and uvicorn's
access log prints the whole request line. A filter on the access logger (and on the root
handlers, for anything else that logs a URL) replaces the value before the record is written.
"""

from __future__ import annotations

import logging
import re
from typing import Any

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


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingFormatter(logging.Formatter):
    """Writes no traceback and no exception text, for any logger (uvicorn's, a library's):
    a traceback quotes the exception's message and source lines, and a database error's
    message is the SQL statement with its parameters, personal data included. The
    exception's type stays, for the operator; the app's own handler names the route and the
    line of our code."""

    def format(self, record: logging.LogRecord) -> str:
        exc = record.exc_info[1] if record.exc_info else None
        saved = record.exc_info, record.exc_text, record.stack_info
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        try:
            text = super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved
        if exc is not None:
            text += f" [{type(exc).__name__}; traceback withheld]"
        return redact(text)


def log_config(level: str) -> dict[str, Any]:
    """logging.config.dictConfig for the CLI and for uvicorn (`rightsdesk serve`): one
    handler on stderr, the redacting formatter and filter on everything written."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"secrets": {"()": RedactSecrets}},
        "formatters": {"redacting": {"()": RedactingFormatter, "fmt": LOG_FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "redacting",
                "filters": ["secrets"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
    }
