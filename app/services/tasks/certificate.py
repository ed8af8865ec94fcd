"""The certificate of execution (처리 확인서) of a decided request, as HTML and as PDF.

One row per holder of the data (internal systems, and processors under PIPA art. 26) with the
evidence of what was done, the items kept apart under a retention statute (art. 21(3)), and the
issue line. Auditors and regulators read it, so it names the data subject by the request
reference only: nothing here takes or prints personal data of the subject. Pure: the caller
builds the Certificate; both renderings print the same view of it (`_view`), times in KST.
"""

from __future__ import annotations

import html
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from app.models.vocab import TaskStatus
from app.workflows.notices import date_text, kst_datetime_text

HASH_PREFIX = 12  # hex digits of an evidence file's SHA-256 printed


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("app", "templates"),
        autoescape=select_autoescape(["html"]),
    )


# The sentences live in app/templates/certificate_texts.j2 (the HTML and the PDF share them).
_TEXTS = (
    _environment().get_template("certificate_texts.j2").make_module({"hash_prefix": HASH_PREFIX})
)


def _text(name: str) -> str:
    return str(getattr(_TEXTS, name))


LEGAL_BASIS = _text("legal_basis")
INCOMPLETE_BANNER = _text("incomplete_banner")
IN_PROGRESS = _text("in_progress")
EVIDENCE_NOTE = _text("evidence_note")
KEPT_INTRO = _text("kept_intro")
NO_KEPT = _text("no_kept")

# The HTML is a document to read and print: its own inline styles, nothing else; no script,
# no frame around it, no guessing at its type.
HTML_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

# "source": the controller the items came from, told of the correction or deletion (Decree
# art. 43(2)); its row is the notification and the source's answer.
_KIND_LABELS = {"system": "자체 시스템", "processor": "수탁자", "source": "제공받은 곳(출처)"}
_STATUS_LABELS = {
    "done": "완료",
    "waived": "면제",
    "open": "미완료",
    "failed": "실패",
    "scheduled": "예정",
}
_UNFINISHED = frozenset({"open", "failed"})


@dataclass(frozen=True)
class EvidenceFile:
    name: str  # file name as uploaded
    sha256: str  # hex
    size: int


@dataclass(frozen=True)
class CertificateTask:
    holder_name: str
    holder_kind: str  # "system" | "processor" | "source"
    items: tuple[str, ...]
    instruction: str  # what was asked: "삭제", "분리 보관", "정정", "처리정지"
    status: TaskStatus
    action: str | None  # what was done: "삭제함"
    method: str | None  # how: "복구·재생할 수 없도록 영구 삭제"
    performed_by: str | None
    performed_at: datetime | None  # tz-aware
    note: str | None
    waived_reason: str | None  # set when the task was waived
    waived_by: str | None
    evidence: tuple[EvidenceFile, ...]
    opens_on: date | None = None  # a scheduled destruction not yet open: the day it opens


@dataclass(frozen=True)
class KeptItem:
    """An item separated under a retention hold instead of deleted (art. 21(3))."""

    item_name: str
    statute: str
    until: date
    destroyed_at: datetime | None = None  # when its destruction after `until` was done


@dataclass(frozen=True)
class Certificate:
    controller_name: str
    reference: str
    request_type_label: str  # "삭제"
    service_name: str
    received_at: datetime  # tz-aware
    legal_due_on: date
    decided_at: datetime | None
    completed_at: datetime | None  # None while tasks are open
    outcome_label: str  # "전부 인용" / "일부 인용"
    kept: tuple[KeptItem, ...]
    tasks: tuple[CertificateTask, ...]
    issued_at: datetime
    issued_by: str
    officer: str  # "개인정보 보호책임자 신종현"


@dataclass(frozen=True)
class _Row:
    """One holder as printed; a cell with several lines is a tuple."""

    holder: str
    kind: str
    items: str
    instruction: str
    status: str  # the task's status, for styling
    result: tuple[str, ...]  # the status label first
    method: str
    performer: tuple[str, ...]
    evidence: tuple[tuple[str, str], ...]  # (file name, "SHA-256 … · size")


@dataclass(frozen=True)
class _View:
    title: str
    reference: str
    controller: str
    incomplete: bool
    summary: tuple[tuple[str, str, bool], ...]  # (label, value, alert)
    rows: tuple[_Row, ...]
    kept: tuple[tuple[str, str, str], ...]  # (item, statute, until)
    closing: str
    issue: tuple[tuple[str, str], ...]


# The notices' Korean formats: "2026년 12월 20일(일) 14:03" (KST; a naive time is refused)
# and "2026년 12월 28일(월)".
format_datetime = kst_datetime_text
format_date = date_text


def certificate_title(c: Certificate) -> str:
    return "개인정보 파기 확인서" if c.request_type_label == "삭제" else "개인정보 처리 결과 확인서"


def is_incomplete(c: Certificate) -> bool:
    """True while any task is open or failed, or the request has no completion time."""
    return c.completed_at is None or any(t.status in _UNFINISHED for t in c.tasks)


def _size(n: int) -> str:
    return (
        f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB" if n < 1 << 20 else f"{n / (1 << 20):.1f} MB"
    )


def _evidence(f: EvidenceFile) -> tuple[str, str]:
    return f.name, f"SHA-256 {f.sha256.lower()[:HASH_PREFIX]}… · {_size(f.size)}"


def _result(t: CertificateTask) -> tuple[str, ...]:
    lines = [_STATUS_LABELS[t.status]]
    if t.status == TaskStatus.WAIVED:
        lines += [f"사유: {t.waived_reason or '—'}", f"면제 결정: {t.waived_by or '—'}"]
    elif t.opens_on is not None:
        lines.append(f"{format_date(t.opens_on)}부터 파기")
    elif t.action:
        lines.append(t.action)
    if t.note:
        lines.append(f"비고: {t.note}")
    return tuple(lines)


def _row(t: CertificateTask) -> _Row:
    if t.holder_kind not in _KIND_LABELS or t.status not in _STATUS_LABELS:
        raise ValueError(f"unknown holder kind or status: {t.holder_kind!r}, {t.status!r}")
    performer: tuple[str, ...] = (t.performed_by or "—",)
    if t.performed_at is not None:
        performer += (format_datetime(t.performed_at),)
    return _Row(
        holder=t.holder_name,
        kind=_KIND_LABELS[t.holder_kind],
        items=", ".join(t.items) or "—",
        instruction=t.instruction,
        status=t.status,
        result=_result(t),
        method=t.method or "—",
        performer=performer,
        evidence=tuple(_evidence(f) for f in t.evidence),
    )


def _kept_until(k: KeptItem) -> str:
    """The last day kept and, once done, when it was destroyed (art. 21(1))."""
    until = format_date(k.until)
    if k.destroyed_at is None:
        return until
    return f"{until} (파기 완료: {format_datetime(k.destroyed_at)})"


def _summary(c: Certificate) -> tuple[tuple[str, str, bool], ...]:
    decided = format_datetime(c.decided_at) if c.decided_at else "—"
    completed = format_datetime(c.completed_at) if c.completed_at else IN_PROGRESS
    return (
        ("관리번호", c.reference, False),
        ("요청 유형", c.request_type_label, False),
        ("서비스", c.service_name, False),
        ("처리 결과", c.outcome_label, False),
        ("접수 일시", format_datetime(c.received_at), False),
        ("법정 처리기한", format_date(c.legal_due_on), False),
        ("결정 일시", decided, False),
        ("완료 일시", completed, c.completed_at is None),
    )


def _view(c: Certificate) -> _View:
    incomplete = is_incomplete(c)
    closing = _text("closing_incomplete" if incomplete else "closing_complete")
    return _View(
        title=certificate_title(c),
        reference=c.reference,
        controller=c.controller_name,
        incomplete=incomplete,
        summary=_summary(c),
        rows=tuple(_row(t) for t in c.tasks),
        kept=tuple((k.item_name, k.statute, _kept_until(k)) for k in c.kept),
        closing=closing,
        issue=(
            ("발급 일시", format_datetime(c.issued_at)),
            ("발급자", c.issued_by),
            ("확인", c.officer),
        ),
    )


def render_html(c: Certificate) -> str:
    """The certificate as one self-contained HTML page (inline CSS, A4 print layout)."""
    template = _environment().get_template("certificate.html")
    texts = {"basis": LEGAL_BASIS, "banner": INCOMPLETE_BANNER, "evidence": EVIDENCE_NOTE}
    return template.render(v=_view(c), t=texts | {"kept": KEPT_INTRO, "no_kept": NO_KEPT})


# --- PDF (reportlab platypus; Korean through the built-in CID fonts, nothing embedded) ---

_SERIF, _SANS = "HYSMyeongJo-Medium", "HYGothic-Medium"
_RED = "#b00020"
_LATIN = {_SERIF: "Times-Roman", _SANS: "Helvetica"}
_ASCII_RUN = re.compile(r"[!-~]+(?: +[!-~]+)*")
# Adobe's UniKS-UCS2-H maps no U+00B7 (drawn blank or as a box); KS X 1001's middle dot is U+30FB.
_CMAP_SAFE = str.maketrans({"\u00b7": "\u30fb"})
_PAGE: dict[str, Any] = {
    "pagesize": A4, "leftMargin": 15 * mm, "rightMargin": 15 * mm, "topMargin": 15 * mm,
    "bottomMargin": 18 * mm, "creator": "RightsDesk", "lang": "ko-KR",
    "invariant": True,  # fixed document id and dates: the same bytes for the same certificate
}  # fmt: skip


@lru_cache(maxsize=1)
def _styles() -> dict[str, Any]:
    for name in (_SERIF, _SANS):
        pdfmetrics.registerFont(UnicodeCIDFont(name))
    base: dict[str, Any] = {"fontName": _SERIF, "wordWrap": "CJK"}
    return {
        "title": ParagraphStyle("title", fontName=_SANS, fontSize=17, leading=22, alignment=1),
        "sub": ParagraphStyle("sub", fontName=_SANS, fontSize=9, leading=12, alignment=1),
        "h2": ParagraphStyle("h2", fontName=_SANS, fontSize=11, leading=15, spaceBefore=8),
        "body": ParagraphStyle("body", fontSize=9, leading=13, spaceBefore=3, **base),
        "cell": ParagraphStyle("cell", fontSize=7.5, leading=10, **base),
        "head": ParagraphStyle("head", fontName=_SANS, fontSize=7.5, leading=10),
        "alert": ParagraphStyle("alert", fontName=_SANS, fontSize=7.5, leading=10, textColor=_RED),
        "footer": ParagraphStyle("footer", fontName=_SANS, fontSize=7, leading=9, alignment=1),
        "banner": ParagraphStyle(
            "banner", fontName=_SANS, fontSize=10.5, leading=14, alignment=1, textColor=_RED
        ),
    }


def _markup(text: str, latin_font: str) -> str:
    """Plain text as Paragraph markup: escaped (names come from staff), Latin in a base font.

    The CID fonts are not embedded, so the viewer draws them with a substitute whose Latin widths
    differ from the metrics reportlab used ("DSR- 2612"); runs of ASCII go to a standard font.
    """
    text = unicodedata.normalize("NFC", text).translate(_CMAP_SAFE)
    escaped = html.escape(text, quote=False)
    return _ASCII_RUN.sub(lambda m: f'<font face="{latin_font}">{m[0]}</font>', escaped)


def _p(lines: str | tuple[str, ...], style: str) -> Any:
    """A Paragraph of plain text, one line per item of `lines`."""
    st = _styles()[style]
    parts = (lines,) if isinstance(lines, str) else lines
    return Paragraph("<br/>".join(_markup(s, _LATIN[st.fontName]) for s in parts), st)


def _table(rows: list[list[Any]], widths: list[float], header_column: bool = False) -> Any:
    grey = "#eeeeee"
    style = [
        ("GRID", (0, 0), (-1, -1), 0.5, "#555555"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (0, -1) if header_column else (-1, 0), grey),
    ]
    if header_column:
        style.append(("BACKGROUND", (2, 0), (2, -1), grey))
    return Table(
        rows, colWidths=widths, repeatRows=0 if header_column else 1, style=TableStyle(style)
    )


def _summary_table(v: _View, width: float) -> Any:
    cells = [(_p(k, "head"), _p(x, "alert" if a else "cell")) for k, x, a in v.summary]
    rows = [[*cells[i], *cells[i + 1]] for i in range(0, len(cells), 2)]
    return _table(rows, [width * f for f in (0.16, 0.34, 0.16, 0.34)], header_column=True)


def _holders_table(v: _View, width: float) -> Any:
    heads = ["보유처", "구분", "항목", "요청 조치", "결과", "방법", "수행자·일시", "증빙"]
    rows: list[list[Any]] = [[_p(h, "head") for h in heads]]
    for r in v.rows:
        status = _p(r.result[0], "alert" if r.status in _UNFINISHED else "head")
        evidence = tuple(line for pair in r.evidence for line in pair) or ("없음",)
        texts = (r.holder, r.kind, r.items, r.instruction)
        result = [status, _p(r.result[1:], "cell")] if r.result[1:] else status
        after = [_p(t, "cell") for t in (r.method, r.performer, evidence)]
        rows.append([*(_p(t, "cell") for t in texts), result, *after])
    if not v.rows:
        rows.append([_p("보유처가 없습니다.", "cell"), *[""] * 7])
    fractions = (0.13, 0.08, 0.12, 0.08, 0.16, 0.14, 0.13, 0.16)
    return _table(rows, [width * f for f in fractions])


def _kept_flowables(v: _View, width: float) -> list[Any]:
    if not v.kept:
        return [_p(NO_KEPT, "body")]
    rows = [[_p(h, "head") for h in ("항목", "근거 법령", "보존 기한")]]
    rows += [[_p(item, "cell"), _p(law, "cell"), _p(until, "cell")] for item, law, until in v.kept]
    return [_p(KEPT_INTRO, "body"), _table(rows, [width * f for f in (0.3, 0.45, 0.25)])]


def _banner(width: float) -> Any:
    style = [("BOX", (0, 0), (-1, -1), 1.5, _RED), ("BACKGROUND", (0, 0), (-1, -1), "#fde8ea")]
    return Table([[_p(INCOMPLETE_BANNER, "banner")]], colWidths=[width], style=style)


def _story(v: _View, width: float) -> list[Any]:
    story: list[Any] = [_p(v.title, "title"), _p(f"관리번호 {v.reference}", "sub"), Spacer(1, 8)]
    if v.incomplete:
        story += [_banner(width), Spacer(1, 8)]
    story += [_p("1. 요청 개요", "h2"), _summary_table(v, width)]
    story += [_p("2. 보유처별 조치 및 증빙", "h2"), _holders_table(v, width)]
    story.append(_p(EVIDENCE_NOTE, "body"))
    story += [_p("3. 분리 보관 항목", "h2"), *_kept_flowables(v, width)]
    story += [_p(f"근거: {LEGAL_BASIS}", "body"), Spacer(1, 6), _p(v.closing, "body")]
    story.append(_p(" · ".join(f"{label} {value}" for label, value in v.issue), "body"))
    story.append(_p(v.controller, "h2"))
    return story


def render_pdf(c: Certificate) -> bytes:
    """The certificate as an A4 PDF (title and author set), byte-for-byte reproducible."""
    v = _view(c)

    def footer(canvas: Any, doc: Any) -> None:
        line = _p(f"{v.title} · {v.reference} · {doc.page}쪽", "footer")
        line.wrapOn(canvas, doc.width, 10 * mm)
        line.drawOn(canvas, doc.leftMargin, 9 * mm)

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, **_PAGE, title=f"{v.title} {v.reference}", author=v.controller)
    doc.build(_story(v, doc.width), onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
