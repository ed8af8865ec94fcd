"""Render a notice (e-mail subject and body, SMS/LMS text) from its context.

Impure only in that it loads the templates shipped in app/templates/notices; the context comes
from app.workflows.notices.notice_context. Plain text throughout, so no HTML escaping; a
template that uses a name the context lacks fails (StrictUndefined) instead of printing blanks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateError

from app.core.korean import josa
from app.workflows.notices import NoticeKind

_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)+")


__all__ = ["RenderedNotice", "josa", "render_internal", "render_notice", "render_text"]


@dataclass(frozen=True)
class RenderedNotice:
    subject: str
    body: str
    sms: str


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("app", "templates/notices"),
        undefined=StrictUndefined,
        autoescape=False,  # plain-text e-mail and SMS
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # shipped with the code: no stat() of the file on every render
    )
    env.filters["josa"] = josa
    return env


def render_notice(
    kind: NoticeKind, context: Mapping[str, Any], *, sms: bool = True, lms: bool = False
) -> RenderedNotice:
    """Render `<kind>.txt.j2` (its `subject` block and body) and, unless `sms` is False (then
    `.sms` is empty), `<kind>.sms.j2`: the text that fits one SMS, or with `lms` (setting
    SMS_ALLOW_LMS) the longer one sent as an LMS.

    Raises jinja2.UndefinedError when a template needs a value the context lacks.
    """
    kind = NoticeKind(kind)
    if context.get("kind", kind.value) != kind.value:
        raise ValueError(f"context was built for {context['kind']!r}, not {kind.value!r}")
    env = _environment()
    values = {**context, "lms": lms}
    module = env.get_template(f"{kind.value}.txt.j2").make_module(values)
    subject = getattr(module, "subject", None)
    if subject is None:
        raise TemplateError(f"{kind.value}.txt.j2 does not set a subject")
    return RenderedNotice(
        subject=" ".join(str(subject).split()),  # one header line
        body=_LEADING_BLANK_LINES.sub("", str(module)),
        sms=env.get_template(f"{kind.value}.sms.j2").render(values).strip() if sms else "",
    )


def render_text(template: str, context: Mapping[str, Any]) -> str:
    """One sentence or paragraph from `<template>.txt.j2` (a value that goes into a notice's
    context, e.g. the action taken), without its final newline."""
    text = _environment().get_template(f"{template}.txt.j2").render(dict(context))
    return text.removesuffix("\n")


def render_internal(template: str, context: Mapping[str, Any]) -> tuple[str, str]:
    """An internal message to staff (SLA reminders): `<template>.txt.j2`, subject and body."""
    module = _environment().get_template(f"{template}.txt.j2").make_module(dict(context))
    subject = getattr(module, "subject", None)
    if subject is None:
        raise TemplateError(f"{template}.txt.j2 does not set a subject")
    return " ".join(str(subject).split()), _LEADING_BLANK_LINES.sub("", str(module))
