"""열람내역서 as HTML and as PDF, from one Statement (app/workflows/access_package.py).

The PDF embeds a TrueType Korean font (ACCESS_STATEMENT_FONT, by default Debian's fonts-nanum
NanumGothic.ttf), so any viewer renders it: reportlab's CID fonts, which the certificate uses,
are only named in the file and depend on the reader having them (docs/decisions.md).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from jinja2 import Environment, PackageLoader, select_autoescape
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from app.errors import DomainError
from app.workflows.access_package import (
    SCOPE_LABELS_KO,
    AccessScope,
    Statement,
    StatementItem,
)

FONT_NAME = "RightsDeskKorean"
# Where Debian (fonts-nanum) and other distributions put NanumGothic.
FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf"),
    Path("/usr/share/fonts/nanum/NanumGothic.ttf"),
    Path("/usr/share/fonts/TTF/NanumGothic.ttf"),
    Path("/usr/local/share/fonts/NanumGothic.ttf"),
)


class FontMissing(DomainError):
    """No TrueType Korean font to embed: the release stops (503) rather than hand out a PDF
    that shows boxes; set RIGHTSDESK_ACCESS_STATEMENT_FONT or install fonts-nanum."""

    status, code, title = 503, "statement_font_missing", "열람내역서 글꼴이 없습니다."


def find_font(configured: Path | None) -> Path:
    candidates = (configured,) if configured else FONT_CANDIDATES
    for path in candidates:
        if path is not None and path.is_file():
            return path
    raise FontMissing(
        "열람내역서 PDF에 넣을 한글 TrueType 글꼴이 없습니다: fonts-nanum 을 설치하거나 "
        "RIGHTSDESK_ACCESS_STATEMENT_FONT 로 .ttf 파일을 지정하세요."
    )


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("app", "templates"), autoescape=select_autoescape(["html"])
    )


@lru_cache(maxsize=1)
def _texts() -> Any:
    return _environment().get_template("access_statement_texts.j2").make_module()


def _t(name: str) -> str:
    return str(getattr(_texts(), name))


@dataclass(frozen=True)
class _ItemView:
    name: str
    rows: list[tuple[str, list[str]]]


def _rows(s: Statement, item: StatementItem) -> list[tuple[str, list[str]]]:
    """The parts of Decree art. 41(1) the subject asked for, in the decree's order."""
    by_scope: dict[AccessScope, list[str]] = {
        AccessScope.ITEMS: list(item.files) or [_t("no_file")],
        AccessScope.PURPOSES: list(item.purposes),
        AccessScope.RETENTION: list(item.retention),
        AccessScope.THIRD_PARTY: [item.third_party],
        AccessScope.CONSENT: [item.consent],
    }
    labels = {**SCOPE_LABELS_KO, AccessScope.ITEMS: _t("files_label")}
    return [(labels[scope], by_scope[scope]) for scope in s.scope]


def _scope_text(scope: Sequence[AccessScope]) -> str:
    return ", ".join(SCOPE_LABELS_KO[x] for x in scope)


def render_html(s: Statement) -> str:
    template = _environment().get_template("access_statement.html")
    items = [_ItemView(i.name, _rows(s, i)) for i in s.items]
    return template.render(s=s, t=_texts(), scope_text=_scope_text(s.scope), items=items)


# --- PDF ------------------------------------------------------------------------------------------


def _register(font: Path) -> None:
    if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT_NAME, str(font)))


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=FONT_NAME, fontSize=9.5, leading=14, wordWrap="CJK")
    return {
        "body": base,
        "h1": ParagraphStyle("h1", parent=base, fontSize=17, leading=24, spaceAfter=8),
        "h2": ParagraphStyle("h2", parent=base, fontSize=12, leading=18, spaceBefore=10),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.5, leading=12),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _table(rows: list[list[Any]], widths: list[float]) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=0)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, "#999999"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (0, -1), "#EEEEEE"),
            ]
        )
    )
    return table


def _story(s: Statement, width: float) -> list[Any]:
    st = _styles()
    story: list[Any] = [_p(_t("title"), st["h1"]), _p(s.controller, st["body"])]
    facts = [
        (_t("reference_label"), s.reference),
        (_t("service_label"), s.service),
        (_t("scope_label"), _scope_text(s.scope)),
    ]
    story.append(
        _table(
            [[_p(k, st["cell"]), _p(v, st["cell"])] for k, v in facts], [35 * mm, width - 35 * mm]
        )
    )
    story += [Spacer(1, 6), _p(_t("intro"), st["body"]), _p(_t("items_heading"), st["h2"])]
    for item in s.items:
        rows = [[_p(item.name, st["cell"]), ""]]
        rows += [[_p(k, st["cell"]), _p("\n".join(v), st["cell"])] for k, v in _rows(s, item)]
        table = _table(rows, [35 * mm, width - 35 * mm])
        table.setStyle(TableStyle([("SPAN", (0, 0), (1, 0))]))
        story += [table, Spacer(1, 4)]
    if s.withheld:
        story.append(_p(_t("withheld_heading"), st["h2"]))
        for w in s.withheld:
            story.append(
                _p(f"· {w.name} — {_t('grounds_label')}: {'; '.join(w.grounds)}", st["body"])
            )
    story.append(_p(_t("files_heading"), st["h2"]))
    rows = [[_p("파일", st["cell"]), _p(_t("holder_label"), st["cell"])]]
    rows += [[_p(name, st["cell"]), _p(holder, st["cell"])] for name, holder in s.files]
    story += [_table(rows, [width * 0.6, width * 0.4]), Spacer(1, 6)]
    story += [_p(_t("legal_basis"), st["body"]), _p(_t("closing"), st["body"])]
    return story


def render_pdf(s: Statement, font: Path) -> bytes:
    """An A4 PDF with the Korean font embedded (a subset, as FontFile2)."""
    _register(font)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"{_t('title')} {s.reference}",
        author=s.controller,
    )
    doc.build(_story(s, doc.width))
    return buffer.getvalue()
