"""Streaming multipart/form-data upload of evidence files.

The body is fed to `python_multipart.MultipartParser` chunk by chunk as it arrives; file parts go
straight into encrypted `EvidenceStore` writers and text fields are kept up to a small cap, so
memory stays at a few chunks whatever the size of the upload. No plaintext temporary files.

What is a file part: a part with a `filename` parameter, or one whose Content-Type is neither
text/* nor application/json (a client may send a PDF without a file name). A part named
`request` is always a text field, even when sent as a JSON file. An empty file input of an
HTML form (`filename=""` and no content) is ignored: a blob is opened only at a file's first
byte. Every part, empty or not, counts against `max_parts`; a form that takes no files refuses
the first file part, and `before_files` (the CSRF token and access-code check of a web form)
runs before the first file byte is written.

The type is decided from the content, never from the name or the declared Content-Type: once
262 bytes of a file have arrived (or the file ends sooner) they are sniffed with `filetype`;
only PDF, JPEG and PNG are accepted as evidence (an access extract takes a few more types:
`UploadLimits.sniff`). Any error deletes every blob this upload wrote before it
is raised.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn

import anyio.to_thread
from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.requests import Request

from app.core.korean import josa
from app.errors import (
    DomainError,
    FieldError,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from app.evidence.sniff import ACCEPTED_LABEL, describe, sniff
from app.evidence.store import HEAD_BYTES, BlobWriter, EvidenceStore
from app.textsafety import safe_filename

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

JSON_FIELD = "request"
FILES_FIELD = "attachments"


@dataclass(frozen=True)
class UploadLimits:
    max_file_bytes: int
    max_files: int
    max_field_bytes: int
    max_fields: int = 64
    # Every part counts, files and empty file inputs included (MAX_FORM_PARTS).
    max_parts: int = 100
    # A form that takes no files refuses a file part before anything is written.
    accept_files: bool = True
    # What a file may be (by its first bytes), how the refusal names it, and the file field
    # errors name (an access extract takes more types than evidence: app/evidence/sniff.py).
    sniff: Callable[[bytes], str | None] = sniff
    accepted_label: str = ACCEPTED_LABEL
    files_field: str = FILES_FIELD


# Called once, with the text fields read so far, when the first file part begins and before
# any of its bytes are written: a web form checks its CSRF token (and the access code) here,
# so nothing is stored for a caller who may not upload. It raises a DomainError to refuse.
BeforeFiles = Callable[[dict[str, list[str]]], None]


@dataclass(frozen=True)
class UploadedFile:
    field_name: str
    filename: str | None  # as sent; None when the part had no (or an empty) file name
    content_type: str  # sniffed from the content: one of ACCEPTED_TYPES
    size: int
    sha256: str
    blob_key: str
    declared_content_type: str | None  # the part's Content-Type as sent, for the record only


@dataclass
class Upload:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: list[UploadedFile] = field(default_factory=list)


def _size_text(n: int) -> str:
    mib = 1024 * 1024
    if n >= mib and n % mib == 0:
        return f"{n // mib}MB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024}KB"
    return f"{n:,}바이트"


def _decode(raw: bytes) -> str:
    # Header parameters come back as latin-1 round-trips of the wire bytes; browsers send UTF-8.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _malformed(reason: str) -> ValidationFailed:
    message = "multipart/form-data 본문을 해석할 수 없습니다."
    return ValidationFailed(
        f"{message} ({reason})", errors=[FieldError("body", "malformed_multipart", message)]
    )


@dataclass
class _Part:
    name: str
    kind: str  # "file" | "field"
    filename: str | None = None
    empty_filename: bool = False
    declared: str | None = None
    index: int = -1
    writer: BlobWriter | None = None
    content_type: str | None = None
    value: bytearray = field(default_factory=bytearray)


class _Reader:
    """Parser callbacks and the state of one upload; raises domain errors from inside them."""

    def __init__(
        self, store: EvidenceStore, limits: UploadLimits, before_files: BeforeFiles | None = None
    ) -> None:
        self.store = store
        self.limits = limits
        self.before_files = before_files
        self._parts = 0
        self.upload = Upload()
        self.writers: list[BlobWriter] = []
        self.ended = False
        self._files = 0
        self._field_count = 0
        self._part: _Part | None = None
        self._headers: dict[str, bytes] = {}
        self._hname = bytearray()
        self._hvalue = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    # -- headers -----------------------------------------------------------------------------

    def on_part_begin(self) -> None:
        self._part = None
        self._headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._hname += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._hvalue += data[start:end]

    def on_header_end(self) -> None:
        self._headers[bytes(self._hname).strip().lower().decode("latin-1")] = bytes(self._hvalue)
        self._hname = bytearray()
        self._hvalue = bytearray()

    def on_headers_finished(self) -> None:
        self._parts += 1
        if self._parts > self.limits.max_parts:
            message = f"양식의 항목은 최대 {self.limits.max_parts}개까지 보낼 수 있습니다."
            raise PayloadTooLarge(
                message,
                errors=[FieldError("body", "too_many_parts", message, limit=self.limits.max_parts)],
            )
        disposition, params = parse_options_header(self._headers.get("content-disposition"))
        if disposition != b"form-data" or b"name" not in params:
            raise _malformed("a part without Content-Disposition: form-data; name=...")
        name = _decode(params[b"name"])
        declared_raw = self._headers.get("content-type")
        declared = parse_options_header(declared_raw)[0].decode("latin-1") or None
        raw_filename = params.get(b"filename")
        binary = declared is not None and not (
            declared.startswith("text/") or declared == "application/json"
        )
        is_file = name != JSON_FIELD and (raw_filename is not None or binary)
        if not is_file:
            self._field_count += 1
            if self._field_count > self.limits.max_fields:
                message = f"입력 항목은 최대 {self.limits.max_fields}개까지 보낼 수 있습니다."
                raise PayloadTooLarge(
                    message,
                    errors=[
                        FieldError("body", "too_many_fields", message, limit=self.limits.max_fields)
                    ],
                )
            self._part = _Part(name=name, kind="field")
            return
        self._file_part_begins(name)
        if self._files >= self.limits.max_files:
            message = f"첨부 파일은 최대 {self.limits.max_files}개까지 올릴 수 있습니다."
            raise PayloadTooLarge(
                message,
                errors=[
                    FieldError(
                        self.limits.files_field,
                        "too_many_files",
                        message,
                        limit=self.limits.max_files,
                    )
                ],
            )
        filename = safe_filename(_decode(raw_filename)) if raw_filename else None
        # The blob writer is opened at the first byte of content: an empty file input costs
        # no file on disk.
        self._part = _Part(
            name=name,
            kind="file",
            filename=filename,
            empty_filename=raw_filename == b"",
            declared=declared,
            index=self._files,
        )
        self._files += 1

    def _file_part_begins(self, name: str) -> None:
        if not self.limits.accept_files:
            message = "이 양식으로는 파일을 보낼 수 없습니다."
            raise UnsupportedMediaType(
                message, errors=[FieldError(name, "files_not_accepted", message)]
            )
        if self.before_files is not None:
            check, self.before_files = self.before_files, None
            check(self.upload.fields)

    # -- data --------------------------------------------------------------------------------

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        if part is None:  # pragma: no cover - the parser calls headers_finished first
            raise _malformed("data before part headers")
        view = memoryview(data)[start:end]
        if part.kind == "file" and part.writer is None and len(view):
            part.writer = self.store.create()
            self.writers.append(part.writer)
        if part.writer is None:
            if len(part.value) + len(view) > self.limits.max_field_bytes:
                limit = _size_text(self.limits.max_field_bytes)
                message = f"입력 항목 하나는 {limit}를 넘을 수 없습니다."
                raise PayloadTooLarge(
                    f"'{part.name}' 항목이 너무 깁니다.",
                    errors=[
                        FieldError(
                            part.name,
                            "field_too_large",
                            message,
                            limit=self.limits.max_field_bytes,
                        )
                    ],
                )
            part.value += view
            return
        writer = part.writer
        if part.content_type is None:
            # Only the bytes needed for sniffing go in before the type is decided.
            need = HEAD_BYTES - writer.size
            self._write_file(part, writer, view[:need])
            view = view[need:]
            if writer.size >= HEAD_BYTES:
                self._decide(part, writer)
        if view:
            self._write_file(part, writer, view)

    def _write_file(self, part: _Part, writer: BlobWriter, view: memoryview) -> None:
        if writer.size + len(view) > self.limits.max_file_bytes:
            limit = _size_text(self.limits.max_file_bytes)
            message = f"파일 하나는 {josa(limit, '을/를')} 넘을 수 없습니다."
            named = josa(self._label(part), "이/가")
            too_large = PayloadTooLarge(
                f"'{part.name}' 항목의 파일 {named} {josa(limit, '을/를')} 넘습니다.",
                errors=[
                    FieldError(
                        f"{self.limits.files_field}.{part.index}",
                        "file_too_large",
                        message,
                        limit=self.limits.max_file_bytes,
                    )
                ],
            )
            too_large.file_input = part.name
            raise too_large
        writer.write(view)

    def _decide(self, part: _Part, writer: BlobWriter) -> None:
        mime = self.limits.sniff(writer.head)
        if mime is None:
            writer.abort()
            self._refuse_type(part, writer.head)
        part.content_type = mime

    def _refuse_type(self, part: _Part, head: bytes) -> NoReturn:
        seen = describe(head)
        label = self.limits.accepted_label
        message = f"{label} 파일만 올릴 수 있습니다."
        named = josa(self._label(part), "은/는")
        detail = f"'{part.name}' 항목의 파일 {named} {label} 파일이 아닙니다"
        detail += f" (내용으로 판별한 형식: {seen})." if seen else "."
        refused = UnsupportedMediaType(
            detail,
            errors=[
                FieldError(
                    f"{self.limits.files_field}.{part.index}", "unsupported_media_type", message
                )
            ],
        )
        refused.file_input = part.name
        raise refused

    @staticmethod
    def _label(part: _Part) -> str:
        return f"'{part.filename}'" if part.filename else "(이름 없음)"

    def on_part_end(self) -> None:
        part, self._part = self._part, None
        if part is None:  # pragma: no cover
            return
        if part.kind == "file" and part.writer is None:
            # No content arrived for this file part: nothing was written to disk.
            self._files -= 1
            if part.empty_filename:
                return  # an HTML form's file input left empty: nothing was chosen
            self._refuse_type(part, b"")
        if part.writer is None:
            try:
                value = part.value.decode("utf-8")
            except UnicodeDecodeError:
                message = "UTF-8 문자열이어야 합니다."
                raise ValidationFailed(
                    f"'{part.name}' 항목을 읽을 수 없습니다.",
                    errors=[FieldError(part.name, "invalid_encoding", message)],
                ) from None
            self.upload.fields.setdefault(part.name, []).append(value)
            return
        writer = part.writer
        if part.content_type is None:
            self._decide(part, writer)
        assert part.content_type is not None
        blob = writer.commit()
        self.upload.files.append(
            UploadedFile(
                field_name=part.name,
                filename=part.filename,
                content_type=part.content_type,
                size=blob.size,
                sha256=blob.sha256,
                blob_key=blob.key,
                declared_content_type=part.declared,
            )
        )

    def on_end(self) -> None:
        self.ended = True

    def discard(self) -> None:
        """Removes whatever this upload wrote: open writers and committed blobs alike."""
        for writer in self.writers:
            if writer.committed:
                self.store.delete(writer.key)
            else:
                writer.abort()
        self.writers.clear()


async def read_upload(
    request: Request,
    store: EvidenceStore,
    limits: UploadLimits,
    *,
    before_files: BeforeFiles | None = None,
) -> Upload:
    """Reads a multipart/form-data body into text fields and stored, type-checked files.

    Raises UnsupportedMediaType (415: not multipart/form-data, or a file that is not a PDF,
    JPEG or PNG), PayloadTooLarge (413: a file, a field or the file count over the limits) or
    ValidationFailed (422: a malformed body). Nothing this upload wrote survives an error.
    """
    ctype, params = parse_options_header(request.headers.get("content-type"))
    if ctype != b"multipart/form-data":
        message = "multipart/form-data 형식으로 보내야 합니다."
        raise UnsupportedMediaType(
            message, errors=[FieldError("body", "unsupported_media_type", message)]
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise _malformed("no boundary in Content-Type")
    reader = _Reader(store, limits, before_files)
    try:
        parser = MultipartParser(boundary, callbacks=reader.callbacks())
        async with contextlib.aclosing(request.stream()) as stream:
            async for chunk in stream:
                # Encryption and disk writes (and the fsync on commit) run off the event loop.
                await anyio.to_thread.run_sync(parser.write, chunk)
                if reader.ended:
                    break  # an epilogue after the closing boundary is ignored
        if not reader.ended:
            raise _malformed("the body ended before the closing boundary")
    except FormParserError as exc:
        reader.discard()
        raise _malformed(type(exc).__name__) from None
    except DomainError as exc:
        reader.discard()
        exc.partial_fields = dict(reader.upload.fields)
        raise
    except BaseException:
        reader.discard()
        raise
    return reader.upload
