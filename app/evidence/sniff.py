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
