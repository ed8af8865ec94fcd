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

from app.workflows.notices import NoticeKind

_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)+")


@dataclass(frozen=True)
class RenderedNotice:
    subject: str
    body: str
    sms: str


def josa(word: str, pair: str) -> str:
    """`word` followed by the Korean particle that fits its last syllable.

    `pair` is "after a final consonant/after a vowel", e.g. "이/가", "을/를", "은/는", "과/와",
    "으로/로" (ㄹ takes 로). Words not ending in a Hangul syllable get both: "CRM을(를)".
    """
    after_consonant, after_vowel = pair.split("/")
    last = word.rstrip()[-1:]
    if not ("가" <= last <= "힣"):
        return f"{word}{after_consonant}({after_vowel})"
    final = (ord(last) - ord("가")) % 28
    if final == 0 or (after_vowel == "로" and final == 8):  # 8 = ㄹ
        return word + after_vowel
    return word + after_consonant


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
