"""Encrypted evidence storage and the streaming multipart reader: real crypto, real files."""

from __future__ import annotations

import hashlib
import json
import stat
import tracemalloc
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Message

from app.core.crypto import Vault
from app.errors import DomainError, problem
from app.evidence import (
    BlobCorrupted,
    BlobNotFound,
    EvidenceStore,
    UploadLimits,
    read_upload,
)
from app.evidence.store import HEADER_BYTES, TAG_BYTES
from app.workflows import rrn
from tests.conftest import TEST_KEY
from tests.factories import ELF, jpeg_bytes, pdf_bytes, png_bytes

PROBLEM = "application/problem+json"
CHUNK = 1024  # small chunks keep the boundary tests fast; the format is the same
MB = 1024 * 1024


# -- realistic small files ------------------------------------------------------------------


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def store_key() -> bytes:
    return Vault.from_text(TEST_KEY, scrub=rrn.mask).derive("evidence-files")


@pytest.fixture
def store(tmp_path: Path, store_key: bytes) -> EvidenceStore:
    return EvidenceStore(tmp_path / "evidence", store_key, chunk_size=CHUNK)


def put(store: EvidenceStore, data: bytes, piece: int | None = None) -> str:
    with store.create() as writer:
        step = piece or max(len(data), 1)
        for i in range(0, len(data), step):
            writer.write(data[i : i + step])
        return writer.commit().key


def blob_path(store: EvidenceStore, key: str) -> Path:
    return store.root / key[:2] / key


# -- storage --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + CHUNK // 2], ids=lambda n: f"{n}B"
)
@pytest.mark.parametrize("piece", [None, 7, CHUNK], ids=["one-write", "7B-writes", "chunk-writes"])
def test_round_trip_across_chunk_boundaries(
    store: EvidenceStore, size: int, piece: int | None
) -> None:
    data = bytes((i * 31 + 7) % 251 for i in range(size))
    with store.create() as writer:
        step = piece or max(size, 1)
        for i in range(0, size, step):
            writer.write(data[i : i + step])
        assert writer.size == size
        assert writer.head == data[:262]
        blob = writer.commit()
    assert blob.size == size and blob.sha256 == hashlib.sha256(data).hexdigest()
    chunks = max(1, -(-size // CHUNK))
    assert blob_path(store, blob.key).stat().st_size == HEADER_BYTES + size + TAG_BYTES * chunks
    reader = store.open(blob.key)
    assert reader.size == size
    parts = list(reader)
    assert b"".join(parts) == data
    assert all(0 < len(p) <= CHUNK for p in parts)


def test_default_chunk_size_round_trip(tmp_path: Path, store_key: bytes) -> None:
    store = EvidenceStore(tmp_path / "ev", store_key)
    data = bytes(range(256)) * 1000  # 256,000 bytes: 3 full 64 KiB chunks and a partial one
    key = put(store, data, piece=10_000)
    assert [len(p) for p in store.open(key)] == [65536, 65536, 65536, 59392]
    assert store.open(key).read_all() == data


def test_file_on_disk_is_ciphertext_with_private_permissions(store: EvidenceStore) -> None:
    secret = "주민등록번호 900101-1234567 김가상 ".encode() * 200
    key = put(store, secret)
    raw = blob_path(store, key).read_bytes()
    assert raw[:5] == b"RDEV\x01"
    assert b"900101-1234567" not in raw and "김가상".encode() not in raw
    assert secret[:16] not in raw
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(blob_path(store, key).parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(blob_path(store, key).stat().st_mode) == 0o600
    # Same plaintext twice: different salt and nonce prefix, so different ciphertext.
    other = blob_path(store, put(store, secret)).read_bytes()
    assert other[HEADER_BYTES:] != raw[HEADER_BYTES:]


@pytest.mark.parametrize(
    "offset", [5, HEADER_BYTES - 1, HEADER_BYTES + 3, HEADER_BYTES + CHUNK + 20, -1]
)
def test_any_flipped_byte_is_detected(store: EvidenceStore, offset: int) -> None:
    data = b"A" * (2 * CHUNK + 100)
    key = put(store, data)
    path = blob_path(store, key)
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(BlobCorrupted):
        store.open(key).read_all()


def test_missing_last_chunk_is_detected(store: EvidenceStore) -> None:
    key = put(store, b"B" * (2 * CHUNK + 100))
    path = blob_path(store, key)
    raw = path.read_bytes()
    # Cut exactly at a chunk boundary: every remaining chunk still authenticates on its own.
    path.write_bytes(raw[: HEADER_BYTES + 2 * (CHUNK + TAG_BYTES)])
    reader = store.open(key)
    assert next(reader) == b"B" * CHUNK  # chunks before the cut are genuine ...
    with pytest.raises(BlobCorrupted):
        next(reader)  # ... but the one that claims to end the file is not the last
    # Cut inside the last chunk, or down to the bare header.
    path.write_bytes(raw[:-1])
    with pytest.raises(BlobCorrupted):
        store.open(key).read_all()
    path.write_bytes(raw[:HEADER_BYTES])
    with pytest.raises(BlobCorrupted):
        store.open(key)


def test_reordered_chunks_are_detected(store: EvidenceStore) -> None:
    key = put(store, b"C" * CHUNK + b"D" * CHUNK + b"E" * 10)
    path = blob_path(store, key)
    raw = path.read_bytes()
    seg = CHUNK + TAG_BYTES
    first, second = (
        raw[HEADER_BYTES : HEADER_BYTES + seg],
        raw[HEADER_BYTES + seg : HEADER_BYTES + 2 * seg],
    )
    path.write_bytes(raw[:HEADER_BYTES] + second + first + raw[HEADER_BYTES + 2 * seg :])
    with pytest.raises(BlobCorrupted):
        store.open(key).read_all()


def test_blob_moved_to_another_key_does_not_decrypt(store: EvidenceStore) -> None:
    key = put(store, pdf_bytes())
    other = "0" * 32 if key != "0" * 32 else "1" * 32
    target = blob_path(store, other)
    target.parent.mkdir(exist_ok=True)
    blob_path(store, key).rename(target)
    assert store.exists(other) and not store.exists(key)
    with pytest.raises(BlobCorrupted):
        store.open(other).read_all()


def test_another_store_key_does_not_decrypt(tmp_path: Path, store: EvidenceStore) -> None:
    key = put(store, pdf_bytes())
    foreign = EvidenceStore(
        store.root, Vault.from_text(TEST_KEY, scrub=rrn.mask).derive("something-else")
    )
    with pytest.raises(BlobCorrupted):
        foreign.open(key).read_all()


def test_abort_and_failed_with_block_leave_nothing(store: EvidenceStore) -> None:
    writer = store.create()
    writer.write(b"x" * (3 * CHUNK))  # two chunks already sealed to disk
    assert len(stored_files(store.root)) == 1
    writer.abort()
    writer.abort()  # idempotent
    assert stored_files(store.root) == []
    with pytest.raises(ValueError):
        writer.write(b"more")

    with pytest.raises(RuntimeError), store.create() as w:
        w.write(b"y" * 100)
        raise RuntimeError("boom")
    with store.create() as w:
        w.write(b"never committed")
    assert stored_files(store.root) == []


def test_commit_renames_into_place_and_delete_removes(store: EvidenceStore) -> None:
    key = put(store, jpeg_bytes())
    assert [p.name for p in stored_files(store.root)] == [key]
    assert store.exists(key)
    assert store.delete(key) is True
    assert store.delete(key) is False
    assert not store.exists(key)
    with pytest.raises(BlobNotFound):
        store.open(key)


@pytest.mark.parametrize("key", ["../../etc/passwd", "", "ABCDEF" * 6, "a" * 31, "a" * 33])
def test_keys_that_cannot_exist_are_not_found(store: EvidenceStore, key: str) -> None:
    assert not store.exists(key)
    assert store.delete(key) is False
    with pytest.raises(BlobNotFound):
        store.open(key)


def test_partials_left_by_a_crash_are_swept(store: EvidenceStore) -> None:
    writer = store.create()
    writer.write(b"z" * 10)
    assert store.remove_partials(older_than=3600) == 0
    assert store.remove_partials(older_than=-1) == 1
    assert stored_files(store.root) == []


def test_store_rejects_a_wrong_key_length(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        EvidenceStore(tmp_path / "ev", b"short")


# -- multipart through a minimal app ----------------------------------------------------------

LIMITS = UploadLimits(max_file_bytes=64 * 1024, max_files=3, max_field_bytes=2048)


def make_app(store: EvidenceStore, limits: UploadLimits = LIMITS) -> Starlette:
    async def upload(request: Request) -> Response:
        got = await read_upload(request, store, limits)
        return JSONResponse({"fields": got.fields, "files": [asdict(f) for f in got.files]})

    async def download(request: Request) -> Response:
        return StreamingResponse(store.open(request.path_params["key"]))

    async def domain_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        return problem(exc.status, exc.code, exc.title, exc.detail, exc.errors, exc.headers)

    return Starlette(
        routes=[
            Route("/upload", upload, methods=["POST"]),
            Route("/blobs/{key}", download),
        ],
        exception_handlers={DomainError: domain_error},
    )


@pytest.fixture
def client(store: EvidenceStore) -> Iterator[TestClient]:
    with TestClient(make_app(store)) as c:
        yield c


def assert_problem(resp: Any, status: int, code: str, field: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = resp.json()
    assert body["code"] == code
    assert field in [e["field"] for e in body["errors"]], body["errors"]
    return body


def test_png_renamed_pdf_is_recorded_as_png(client: TestClient, store: EvidenceStore) -> None:
    png = png_bytes()
    resp = client.post("/upload", files={"attachments": ("신분증.pdf", png, "application/pdf")})
    assert resp.status_code == 200, resp.text
    [f] = resp.json()["files"]
    assert f["field_name"] == "attachments" and f["filename"] == "신분증.pdf"
    assert f["content_type"] == "image/png"
    assert f["declared_content_type"] == "application/pdf"
    assert f["size"] == len(png) and f["sha256"] == hashlib.sha256(png).hexdigest()
    assert client.get(f"/blobs/{f['blob_key']}").content == png
    assert [p.name for p in stored_files(store.root)] == [f["blob_key"]]


def test_executable_named_pdf_is_refused_and_nothing_is_kept(
    client: TestClient, store: EvidenceStore
) -> None:
    files = [
        ("attachments", ("위임장.pdf", pdf_bytes(), "application/pdf")),
        ("attachments", ("가족관계증명서.pdf", ELF, "application/pdf")),
    ]
    resp = client.post("/upload", data={"note": "x"}, files=files)
    body = assert_problem(resp, 415, "unsupported_media_type", "attachments.1")
    assert "가족관계증명서.pdf" in body["detail"] and "attachments" in body["detail"]
    assert "application/x-executable" in body["detail"]
    [error] = body["errors"]
    assert error["code"] == "unsupported_media_type"
    assert "PDF, JPEG, PNG" in error["message"]
    # The PDF before it had been committed; it is gone too.
    assert stored_files(store.root) == []


def test_text_and_empty_files_are_refused(client: TestClient, store: EvidenceStore) -> None:
    text = client.post(
        "/upload", files={"attachments": ("a.pdf", b"hello, not a pdf", "text/plain")}
    )
    assert_problem(text, 415, "unsupported_media_type", "attachments.0")
    empty = client.post("/upload", files={"attachments": ("b.jpg", b"", "image/jpeg")})
    assert_problem(empty, 415, "unsupported_media_type", "attachments.0")
    assert stored_files(store.root) == []


def test_file_over_the_limit_is_413_and_nothing_is_kept(
    client: TestClient, store: EvidenceStore
) -> None:
    files = [
        ("attachments", ("ok.jpg", jpeg_bytes(), "image/jpeg")),
        ("attachments", ("big.pdf", pdf_bytes(LIMITS.max_file_bytes), "application/pdf")),
    ]
    body = assert_problem(
        client.post("/upload", files=files), 413, "payload_too_large", "attachments.1"
    )
    assert "64KB" in body["errors"][0]["message"]
    assert stored_files(store.root) == []
    # Exactly at the limit is fine.
    exact = pdf_bytes(0)
    exact = exact + b"%" * (LIMITS.max_file_bytes - len(exact))
    ok = client.post("/upload", files={"attachments": ("exact.pdf", exact, "application/pdf")})
    assert ok.status_code == 200 and ok.json()["files"][0]["size"] == LIMITS.max_file_bytes


def test_too_many_files_is_413(client: TestClient, store: EvidenceStore) -> None:
    files = [("attachments", (f"{i}.png", png_bytes(), "image/png")) for i in range(4)]
    body = assert_problem(
        client.post("/upload", files=files), 413, "payload_too_large", "attachments"
    )
    assert "3개" in body["errors"][0]["message"]
    assert stored_files(store.root) == []


def test_field_over_the_limit_is_413(client: TestClient, store: EvidenceStore) -> None:
    resp = client.post(
        "/upload",
        data={"note": "가" * 1000},  # 3000 bytes of UTF-8
        files={"attachments": ("a.png", png_bytes(), "image/png")},
    )
    assert_problem(resp, 413, "payload_too_large", "note")
    assert stored_files(store.root) == []


def test_too_many_text_fields_is_413(store: EvidenceStore) -> None:
    limits = UploadLimits(max_file_bytes=1024, max_files=1, max_field_bytes=64, max_fields=2)
    with TestClient(make_app(store, limits)) as client:
        parts = [(f"f{i}", (None, b"v", None)) for i in range(3)]
        assert_problem(client.post("/upload", files=parts), 413, "payload_too_large", "body")
        long_request = [("request", ("request.json", b"{}" + b" " * 64, "application/json"))]
        resp = client.post("/upload", files=long_request)
        assert_problem(resp, 413, "payload_too_large", "request")


def test_several_files_with_their_fields(client: TestClient, store: EvidenceStore) -> None:
    files = [
        ("id_document", ("신분증.jpg", jpeg_bytes(), "image/jpeg")),
        ("attachments", ("위임장.pdf", pdf_bytes(500), "application/pdf")),
        ("attachments", ("scan", png_bytes(), "application/octet-stream")),
    ]
    resp = client.post(
        "/upload", data={"kind": ["delegation", "family"], "memo": "대리인 신청"}, files=files
    )
    assert resp.status_code == 200, resp.text
    got = resp.json()
    assert got["fields"] == {"kind": ["delegation", "family"], "memo": ["대리인 신청"]}
    summary = [(f["field_name"], f["filename"], f["content_type"]) for f in got["files"]]
    assert summary == [
        ("id_document", "신분증.jpg", "image/jpeg"),
        ("attachments", "위임장.pdf", "application/pdf"),
        ("attachments", "scan", "image/png"),
    ]
    for f, (_, (_, data, _)) in zip(got["files"], files, strict=True):
        assert client.get(f"/blobs/{f['blob_key']}").content == data
    assert len(stored_files(store.root)) == 3


def test_request_json_part_is_a_field_as_text_or_as_file(client: TestClient) -> None:
    payload = {"type": "access", "subject": {"name": "김가상"}}
    raw = json.dumps(payload, ensure_ascii=False).encode()
    as_file = client.post(
        "/upload",
        files=[
            ("request", ("request.json", raw, "application/json")),
            ("attachments", ("a.pdf", pdf_bytes(), "application/pdf")),
        ],
    )
    assert as_file.status_code == 200, as_file.text
    assert json.loads(as_file.json()["fields"]["request"][0]) == payload
    assert [f["field_name"] for f in as_file.json()["files"]] == ["attachments"]

    # A plain text part (no file name): httpx sends multipart only when there are file parts.
    as_text = client.post("/upload", files=[("request", (None, raw, None))])
    assert json.loads(as_text.json()["fields"]["request"][0]) == payload
    assert as_text.json()["files"] == []


def test_pdf_without_a_filename_and_empty_html_file_input(client: TestClient) -> None:
    boundary = "b0undary"
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="attachments"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + pdf_bytes()
        + (
            f"\r\n--{boundary}\r\n"
            'Content-Disposition: form-data; name="attachments"; filename=""\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
            f"\r\n--{boundary}--\r\n"
        ).encode()
    )
    resp = client.post(
        "/upload",
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert resp.status_code == 200, resp.text
    [f] = resp.json()["files"]
    assert f["filename"] is None and f["content_type"] == "application/pdf"


def test_not_multipart_is_415(client: TestClient) -> None:
    resp = client.post("/upload", json={"a": 1})
    assert_problem(resp, 415, "unsupported_media_type", "body")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"--x\r\n"),  # no boundary parameter
        ("multipart/form-data; boundary=x", b"garbage without any boundary"),
        (
            "multipart/form-data; boundary=x",
            b"--x\r\nContent-Type: text/plain\r\n\r\nno name\r\n--x--\r\n",
        ),
        ("multipart/form-data; boundary=x", b"--x\r\nbad header line\r\n\r\n"),
    ],
    ids=["no-boundary", "garbage", "no-disposition", "bad-header"],
)
def test_malformed_bodies_are_422(
    client: TestClient, store: EvidenceStore, content_type: str, body: bytes
) -> None:
    resp = client.post("/upload", content=body, headers={"content-type": content_type})
    assert_problem(resp, 422, "validation_error", "body")
    assert stored_files(store.root) == []


def test_body_cut_off_after_a_complete_file_keeps_nothing(
    client: TestClient, store: EvidenceStore
) -> None:
    body = (
        b'--x\r\nContent-Disposition: form-data; name="attachments"; filename="a.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n" + pdf_bytes() + b"\r\n--x\r\n"
        b'Content-Disposition: form-data; name="attachments"; filename="b.pdf"\r\n\r\n'
        b"%PDF-1.4 and then"
    )
    resp = client.post(
        "/upload", content=body, headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert_problem(resp, 422, "validation_error", "body")
    assert stored_files(store.root) == []


# -- streaming: memory and early stop, driven through ASGI with the body in 64 KiB messages -----

BOUNDARY = "rightsdesk-bench-boundary"
BLOCK = bytes((i * 131 + 17) % 256 for i in range(64 * 1024))  # made once, outside measurement


def multipart_stream(size: int, head: bytes, filename: str = "scan.pdf") -> Iterator[bytes]:
    """A one-file multipart body of `size` file bytes, generated 64 KiB at a time."""
    yield (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="attachments"; filename="{filename}"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    yield head
    left = size - len(head)
    while left > 0:
        piece = BLOCK if left >= len(BLOCK) else BLOCK[:left]
        left -= len(piece)
        yield piece
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


class Sent:
    def __init__(self) -> None:
        self.status = 0
        self.body = b""
        self.consumed = 0


async def asgi_post(app: Starlette, parts: Iterator[bytes], sent: Sent) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/upload",
        "raw_path": b"/upload",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    done = False

    async def receive() -> Message:
        nonlocal done
        if done:
            await anyio.sleep_forever()
        piece = next(parts, None)
        if piece is None:
            done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        sent.consumed += len(piece)
        return {"type": "http.request", "body": piece, "more_body": True}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            sent.status = message["status"]
        elif message["type"] == "http.response.body":
            sent.body += message.get("body", b"")

    await app(scope, receive, send)


def measured_upload(app: Starlette, parts: Iterator[bytes]) -> tuple[Sent, int]:
    sent = Sent()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        anyio.run(asgi_post, app, parts, sent)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return sent, peak


def test_20mb_upload_against_a_10mb_limit_stays_small_and_stops_early(
    tmp_path: Path, store_key: bytes
) -> None:
    store = EvidenceStore(tmp_path / "ev", store_key)
    app = make_app(store, UploadLimits(max_file_bytes=10 * MB, max_files=3, max_field_bytes=4096))
    sent, peak = measured_upload(app, multipart_stream(20 * MB, pdf_bytes()))
    assert sent.status == 413, sent.body
    assert json.loads(sent.body)["errors"][0]["field"] == "attachments.0"
    assert peak < 4 * MB, f"peak traced memory {peak / MB:.2f} MB"
    print(f"413 at 10 MB of 20 MB: peak traced {peak / 1024:.0f} KiB")
    # Reading stopped at the limit: not one 64 KiB message past it.
    assert sent.consumed <= 10 * MB + 2 * len(BLOCK)
    assert stored_files(store.root) == []


def test_accepted_9mb_upload_stays_small_and_round_trips(tmp_path: Path, store_key: bytes) -> None:
    store = EvidenceStore(tmp_path / "ev", store_key)
    app = make_app(store, UploadLimits(max_file_bytes=10 * MB, max_files=3, max_field_bytes=4096))
    expected = hashlib.sha256()
    for piece in list(multipart_stream(9 * MB, pdf_bytes()))[1:-1]:
        expected.update(piece)
    sent, peak = measured_upload(app, multipart_stream(9 * MB, pdf_bytes()))
    assert sent.status == 200, sent.body
    [f] = json.loads(sent.body)["files"]
    assert f["size"] == 9 * MB and f["content_type"] == "application/pdf"
    assert f["sha256"] == expected.hexdigest()
    assert peak < 4 * MB, f"peak traced memory {peak / MB:.2f} MB"
    print(f"accepted 9 MB: peak traced {peak / 1024:.0f} KiB")
    check = hashlib.sha256()
    for chunk in store.open(f["blob_key"]):
        check.update(chunk)
    assert check.hexdigest() == expected.hexdigest()


def test_wrong_type_is_refused_after_the_first_bytes(tmp_path: Path, store_key: bytes) -> None:
    store = EvidenceStore(tmp_path / "ev", store_key)
    app = make_app(store, UploadLimits(max_file_bytes=10 * MB, max_files=3, max_field_bytes=4096))
    sent = Sent()
    anyio.run(asgi_post, app, multipart_stream(8 * MB, ELF, "x.pdf"), sent)
    assert sent.status == 415, sent.body
    assert sent.consumed < 3 * len(BLOCK)  # decided on the head, not after 8 MB
    assert stored_files(store.root) == []
