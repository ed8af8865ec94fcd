"""What a file is, from its first bytes (never its name or declared type): only PDF, JPEG and
PNG are accepted as evidence."""

from __future__ import annotations

from typing import Any

try:
    import filetype  # type: ignore[import-untyped]
    from filetype.types import archive, image  # type: ignore[import-untyped]

    _MATCHERS: tuple[Any, ...] | None = (archive.Pdf(), image.Jpeg(), image.Png())
except ImportError:  # pragma: no cover - filetype is a dependency; this is a safety net
    filetype = None
    _MATCHERS = None

PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"
ACCEPTED_TYPES: tuple[str, ...] = (PDF, JPEG, PNG)
ACCEPTED_LABEL = "PDF, JPEG, PNG"


def sniff(head: bytes) -> str | None:
    """PDF, JPEG or PNG by the first bytes (262 are plenty), else None."""
    if _MATCHERS is not None:
        kind = filetype.match(head, _MATCHERS)
        return None if kind is None else str(kind.mime)
    data = head[3:] if head.startswith(b"\xef\xbb\xbf") else head  # pragma: no cover
    if data.startswith(b"%PDF"):  # pragma: no cover
        return PDF
    if head.startswith(b"\xff\xd8\xff"):  # pragma: no cover
        return JPEG
    if head.startswith(b"\x89PNG"):  # pragma: no cover
        return PNG
    return None  # pragma: no cover


def describe(head: bytes) -> str | None:
    if filetype is None or not head:  # pragma: no cover
        return None
    mime = filetype.guess_mime(head)
    return None if mime is None else str(mime)


# --- an access extract (PIPA art. 35: a copy of the subject's data, as the holder keeps it) --

ZIP = "application/zip"
CSV = "text/csv"
JSON = "application/json"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXTRACT_TYPES: tuple[str, ...] = (PDF, JPEG, PNG, ZIP, CSV, JSON, XLSX)
EXTRACT_LABEL = "PDF, JPEG, PNG, ZIP, CSV, JSON, XLSX"
EXTENSIONS = {
    PDF: "pdf",
    JPEG: "jpg",
    PNG: "png",
    ZIP: "zip",
    CSV: "csv",
    JSON: "json",
    XLSX: "xlsx",
}
_CONTROL = frozenset(range(32)) - {9, 10, 13}


def sniff_extract(head: bytes) -> str | None:
    """An extract's type by its first bytes: PDF, JPEG and PNG as evidence is; a ZIP (an XLSX
    when its first entry is `[Content_Types].xml`, as Office Open XML writes it); else UTF-8
    text without control characters, JSON when it opens with `{` or `[`, CSV otherwise."""
    found = sniff(head)
    if found is not None:
        return found
    if head.startswith(b"PK\x03\x04"):
        return XLSX if b"[Content_Types].xml" in head else ZIP
    text = _utf8_text(head)
    if text is None:
        return None
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        return None
    return JSON if stripped[0] in "{[" else CSV


def _utf8_text(head: bytes) -> str | None:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The head may cut a multi-byte character at its end.
        if exc.start < len(head) - 3 or exc.reason != "unexpected end of data":
            return None
        text = head[: exc.start].decode("utf-8")
    if any(ord(ch) in _CONTROL for ch in text):
        return None
    return text
