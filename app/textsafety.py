"""Text people send us, checked once: what every input model's free-text and contact fields
accept, and what is cut from names of uploaded files.

Refused everywhere: control characters (NUL, ANSI escapes, DEL, C1), lone surrogates, and the
bidirectional controls that make text display other than it reads (U+202E turns
"gpj.exe" around). Refused in one-line fields (names, e-mail, phone, addresses, codes): line
breaks and every other invisible format character (zero-width space, joiners, BOM), which
make two names look alike and break matching. Multi-line free text (details, reasons, notes)
keeps newlines and tabs. Text with nothing visible in it (only spaces, zero-width characters
or Hangul fillers) is refused as empty. Phones: digits, spaces, hyphens, plus, parentheses.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

# Rule codes (FieldError.code) and the Korean message for each; the value is never echoed.
MESSAGES = {
    "control_character": "제어 문자, 줄바꿈 또는 보이지 않는 서식 문자(방향 전환 문자 등)는 "
    "쓸 수 없습니다.",
    "invisible_only": "보이는 글자가 없습니다. 내용을 입력해 주세요.",
    "phone_characters": "전화번호에는 숫자, 공백, 하이픈(-), +, 괄호만 쓸 수 있습니다.",
}

# Bidirectional formatting: marks, embeddings, overrides and isolates.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_LINE_BREAKS = frozenset("\n\r\t")
# Letters that draw nothing: Hangul fillers and the blank braille pattern.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_PHONE = re.compile(r"[0-9 ()+\-]+")


def violation(value: str, *, multiline: bool) -> str | None:
    """The rule `value` breaks (a code of MESSAGES), or None when it is acceptable."""
    visible = formatted = False
    for ch in value:
        if multiline and ch in _LINE_BREAKS:
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs") or ch in BIDI_CONTROLS:
            return "control_character"
        if category == "Cf":
            formatted = True
        elif not (ch.isspace() or ch in _BLANK_LETTERS or _is_variation_selector(ch)):
            visible = True
    if value and not visible:
        return "invisible_only"
    return "control_character" if formatted and not multiline else None


def _is_variation_selector(ch: str) -> bool:
    return "\ufe00" <= ch <= "\ufe0f" or "\U000e0100" <= ch <= "\U000e01ef"


def _check(value: str, *, multiline: bool) -> str:
    rule = violation(value, multiline=multiline)
    if rule is not None:
        raise PydanticCustomError(rule, MESSAGES[rule])
    return value


def one_line(value: str) -> str:
    """pydantic validator: a one-line field (name, e-mail, address, code)."""
    return _check(value, multiline=False)


def multi_line(value: str) -> str:
    """pydantic validator: multi-line free text (details, reasons, notes)."""
    return _check(value, multiline=True)


def phone_violation(value: str) -> str | None:
    """The rule a phone number's characters break, or None (its length is checked elsewhere).
    CR/LF or markup in a number would reach the SMS gateway's request."""
    rule = violation(value, multiline=False)
    if rule is None and not _PHONE.fullmatch(value.strip()):
        rule = "phone_characters"
    return rule


def phone_characters(value: str) -> str:
    """pydantic validator: a phone number's characters."""
    rule = phone_violation(value)
    if rule is not None:
        raise PydanticCustomError(rule, MESSAGES[rule])
    return value


OneLine = Annotated[str, AfterValidator(one_line)]
MultiLine = Annotated[str, AfterValidator(multi_line)]


def one_line_or_none(value: str | None) -> str | None:
    """For values from elsewhere (a Channel Talk profile): the value if acceptable, else None."""
    if value is None or violation(value.strip(), multiline=False) is not None:
        return None
    return value.strip()


def clean_multi_line(value: str) -> str:
    """Multi-line text from elsewhere (a chat message), with what the rules refuse removed:
    control characters, lone surrogates and bidirectional controls. Newlines and tabs stay."""
    return "".join(
        ch
        for ch in value
        if ch in _LINE_BREAKS
        or not (unicodedata.category(ch) in ("Cc", "Cs") or ch in BIDI_CONTROLS)
    )


def safe_filename(name: str | None) -> str | None:
    """An uploaded file's name as we keep and show it: without bidirectional controls (which
    make "invoice<U+202E>gpj.exe" display as "invoiceexe.jpg") or control characters; None
    when nothing is left."""
    kept = "".join(
        ch
        for ch in name or ""
        if ch not in BIDI_CONTROLS and unicodedata.category(ch) not in ("Cc", "Cs")
    )
    return kept or None
