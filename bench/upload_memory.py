"""Peak RSS and throughput of a multipart upload streamed through `read_upload`.

Builds a minimal Starlette app (one POST route calling read_upload), calls it through ASGI with
the body generated on the fly in 64 KiB messages (as uvicorn delivers a socket's data), and
reports the growth of the process's peak RSS (resource.getrusage ru_maxrss) over a warmed-up
baseline, the upload throughput and the read-back (decrypt) throughput.

Each scenario runs in a fresh interpreter, because ru_maxrss only ever grows:

    .venv/bin/python bench/upload_memory.py                      # the table in bench/README.md
    .venv/bin/python bench/upload_memory.py --one --mb 100       # one run, 100 MB, stream mode
    .venv/bin/python bench/upload_memory.py --one --mb 50 --mode body   # buffered, to compare

Modes: `stream` is read_upload; `body` is `await request.body()` (everything in memory);
`form` is Starlette's `request.form()` (spools each file to a plaintext temporary file).
Not part of the test run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.core.crypto import Vault, new_key_text
from app.errors import DomainError, problem
from app.evidence import EvidenceStore, UploadLimits, read_upload
from app.workflows import rrn

MB = 1024 * 1024
BOUNDARY = "rightsdesk-bench-boundary"
MESSAGE = 64 * 1024
BLOCK = os.urandom(MESSAGE)
PDF_HEAD = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


def peak_rss_kib() -> int:
    # Linux reports KiB; macOS reports bytes.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


def body_parts(size: int) -> Iterator[bytes]:
    yield (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="request"\r\n\r\n{"type": "access"}\r\n'
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="attachments"; filename="scan.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    yield PDF_HEAD
    left = size - len(PDF_HEAD)
    while left > 0:
        piece = BLOCK if left >= MESSAGE else BLOCK[:left]
        left -= len(piece)
        yield piece
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def make_app(store: EvidenceStore, limits: UploadLimits, mode: str) -> Starlette:
    async def upload(request: Request) -> Response:
        if mode == "body":
            return JSONResponse({"size": len(await request.body())})
        if mode == "form":
            async with request.form(max_part_size=limits.max_file_bytes) as form:
                return JSONResponse({"fields": len(form)})
        got = await read_upload(request, store, limits)
        return JSONResponse({"files": [f.blob_key for f in got.files]})

    async def domain_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        return problem(exc.status, exc.code, exc.title, exc.detail, exc.errors)

    return Starlette(
        routes=[Route("/upload", upload, methods=["POST"])],
        exception_handlers={DomainError: domain_error},
    )


async def post(app: Starlette, parts: Iterator[bytes]) -> tuple[int, bytes]:
    scope: dict[str, Any] = {
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
            (b"host", b"bench"),
            (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }
    status, body, done = 0, b"", False

    async def receive() -> Message:
        nonlocal done
        if done:
            await anyio.sleep_forever()
        piece = next(parts, None)
        if piece is None:
            done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": piece, "more_body": True}

    async def send(message: Message) -> None:
        nonlocal status, body
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body += message.get("body", b"")

    await app(scope, receive, send)
    return status, body


def run_one(mb: int, limit_mb: int, mode: str, directory: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        store = EvidenceStore(
            Path(tmp) / "evidence", Vault.from_text(new_key_text(), scrub=rrn.mask).derive("b")
        )
        limits = UploadLimits(max_file_bytes=limit_mb * MB, max_files=5, max_field_bytes=64 * 1024)
        app = make_app(store, limits, mode)
        anyio.run(post, app, body_parts(4096))  # warm up: lazy imports, thread pool, OpenSSL
        base = peak_rss_kib()
        start = time.perf_counter()
        status, body = anyio.run(post, app, body_parts(mb * MB))
        upload_s = time.perf_counter() - start
        grown = peak_rss_kib() - base
        read_s = None
        if mode == "stream" and status == 200:
            [key] = json.loads(body)["files"]
            start = time.perf_counter()
            digest = hashlib.sha256()
            for chunk in store.open(key):
                digest.update(chunk)
            read_s = time.perf_counter() - start
    return {
        "mode": mode,
        "mb": mb,
        "limit_mb": limit_mb,
        "status": status,
        "baseline_rss_mib": round(base / 1024, 1),
        "peak_rss_growth_mib": round(grown / 1024, 1),
        "upload_mib_s": round(mb / upload_s, 1) if status == 200 else None,
        "upload_s": round(upload_s, 3),
        "read_mib_s": round(mb / read_s, 1) if read_s else None,
    }


SCENARIOS = [
    ("stream", 9, 10),
    ("stream", 20, 10),
    ("stream", 100, 200),
    ("stream", 500, 1000),
    ("body", 100, 200),
    ("form", 100, 200),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--one", action="store_true", help="run a single scenario in-process")
    parser.add_argument("--mb", type=int, default=100, help="file size in MiB")
    parser.add_argument("--limit-mb", type=int, default=None, help="max_file_bytes in MiB")
    parser.add_argument("--mode", choices=["stream", "body", "form"], default="stream")
    parser.add_argument("--dir", default=None, help="where the store lives (default: $TMPDIR)")
    args = parser.parse_args()
    if args.one:
        limit = args.limit_mb if args.limit_mb is not None else 2 * args.mb
        print(json.dumps(run_one(args.mb, limit, args.mode, args.dir)))
        return
    header = "mode    file MiB  limit MiB  status  baseline RSS  peak RSS growth  upload   read"
    print(header)
    for mode, mb, limit in SCENARIOS:
        cmd = [sys.executable, __file__, "--one", "--mode", mode, "--mb", str(mb)]
        cmd += ["--limit-mb", str(limit)] + (["--dir", args.dir] if args.dir else [])
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        up = f"{r['upload_mib_s']} MiB/s" if r["upload_mib_s"] else f"{r['upload_s']} s"
        read = f"{r['read_mib_s']} MiB/s" if r["read_mib_s"] else "-"
        print(
            f"{mode:<7} {mb:>8} {limit:>10} {r['status']:>7} {r['baseline_rss_mib']:>9} MiB"
            f" {r['peak_rss_growth_mib']:>12} MiB  {up:>12}  {read}"
        )


if __name__ == "__main__":
    main()
