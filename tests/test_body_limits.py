"""What an unauthenticated caller can make the server read, store or wait for.

The attacks of the hardening review, each as a test: a multipart Content-Type on a route that
takes no files, a staff route without a token, thousands of empty file parts, files sent to a
form before its CSRF token or access code is checked, and a body that stalls. The requests
that stream are driven at the ASGI level so the test counts every byte the app pulled.
"""

from __future__ import annotations

import re
import signal
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.runtime import Runtime
from tests.conftest import TEST_KEY, request_body
from tests.servers import ServerProcess

MAX_BODY = 64 * 1024
CHUNK = 64 * 1024
PDF = b"%PDF-1.4\n" + b"0" * 2000 + b"\n%%EOF\n"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"max_body_bytes": MAX_BODY, "body_idle_timeout_seconds": 0.5}


@dataclass
class Answer:
    status: int
    body: bytes
    pulled: int  # bytes of the request body the app asked for
    headers: dict[str, str] = field(default_factory=dict)


def asgi_call(
    app: FastAPI,
    method: str,
    path: str,
    headers: dict[str, str],
    chunks: int,
    chunk: bytes = b"a" * CHUNK,
    *,
    stall_after: int | None = None,
) -> Answer:
    """Sends `chunks` copies of `chunk` as the body (or stalls after `stall_after` of them)
    and returns the answer with the number of body bytes the app pulled."""
    pulled = 0
    sent = 0
    start: dict[str, Any] = {}
    body = bytearray()
    done = anyio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal pulled, sent
        if stall_after is not None and sent >= stall_after:
            await anyio.sleep_forever()
        if sent >= chunks:
            await done.wait()
            return {"type": "http.disconnect"}
        sent += 1
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": sent < chunks}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
        "state": {},
    }

    async def run() -> None:
        with anyio.fail_after(20):  # a bound on the test, not a wait for state
            await app(scope, receive, send)

    anyio.run(run)
    return Answer(
        status=int(start["status"]),
        body=bytes(body),
        pulled=pulled,
        headers={k.decode(): v.decode() for k, v in start.get("headers", [])},
    )


def file_request(client: TestClient) -> tuple[str, str]:
    resp = client.post("/v1/requests", json=request_body())
    assert resp.status_code == 201, resp.text
    return resp.json()["reference"], resp.json()["access_code"]


# --- 1. the body cap does not depend on the Content-Type ---------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/requests/DSR-20261215-AAAA/verification",
        "/tasks/confirm",
    ],
)
def test_a_route_that_takes_no_files_reads_at_most_max_body_bytes_of_multipart(
    app: FastAPI, path: str
) -> None:
    # 12.5 MiB of "a" under a multipart Content-Type (the review sent 90 MiB).
    answer = asgi_call(
        app, "POST", path, {"content-type": "multipart/form-data; boundary=zz"}, chunks=200
    )
    assert answer.status == 413, answer.body[:300]
    assert answer.pulled <= MAX_BODY + CHUNK
    assert b"payload_too_large" in answer.body


def test_a_web_form_that_takes_no_files_reads_little_of_a_big_file(app: FastAPI) -> None:
    part = b'--zz\r\nContent-Disposition: form-data; name="f"; filename="a.pdf"\r\n\r\n%PDF'
    for path in ("/status", "/status/verify"):
        answer = asgi_call(
            app,
            "POST",
            path,
            {"content-type": "multipart/form-data; boundary=zz"},
            chunks=200,
            chunk=part + b"0" * 4000,
        )
        assert answer.status == 415, answer.body[:300]
        assert answer.pulled <= 4100


def test_a_declared_length_over_the_cap_is_refused_before_any_byte(app: FastAPI) -> None:
    headers = {
        "content-type": "multipart/form-data; boundary=zz",
        "content-length": str(90 * 1024 * 1024),
    }
    answer = asgi_call(app, "POST", "/v1/requests/DSR-20261215-AAAA/verification", headers, 1440)
    assert answer.status == 413
    assert answer.pulled == 0


def test_a_staff_route_without_a_valid_token_reads_no_body(
    app: FastAPI, staff_headers: Callable[..., dict[str, str]]
) -> None:
    headers = {"content-type": "application/json"}
    # Under the cap: before, FastAPI read and parsed all of it before the token was checked.
    answer = asgi_call(app, "PATCH", "/v1/staff/requests/DSR-1", headers, 48, b"a" * 1024)
    assert answer.status == 401
    assert answer.pulled == 0
    assert b"unauthenticated" in answer.body
    headers["authorization"] = "Bearer not-a-token"
    answer = asgi_call(app, "POST", "/v1/staff/requests", headers, 48, b"a" * 1024)
    assert (answer.status, answer.pulled) == (401, 0)
    # A valid token gets through to the route (which refuses the body on its merits).
    headers = {"content-type": "application/json", **staff_headers("security")}
    answer = asgi_call(app, "POST", "/v1/staff/requests", headers, 1, b"{}")
    assert answer.status == 422


def test_an_upload_route_still_takes_files_past_max_body_bytes(
    client: TestClient, runtime: Runtime
) -> None:
    big_pdf = b"%PDF-1.4\n" + b"0" * (3 * MAX_BODY) + b"\n%%EOF\n"
    reference, code = file_request(client)
    resp = client.post(
        f"/v1/requests/{reference}/attachments",
        headers={"X-Access-Code": code},
        files={"attachments": ("scan.pdf", big_pdf, "application/pdf")},
        data={"attachment_kinds": "identity_document"},
    )
    assert resp.status_code == 201, resp.text


# --- 2. empty file parts ----------------------------------------------------------------------


class CountingStore:
    """Counts every blob the evidence store opens (each is a file on disk)."""

    def __init__(self, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opened = 0
        original = runtime.evidence.create

        def create() -> Any:
            self.opened += 1
            return original()

        monkeypatch.setattr(runtime.evidence, "create", create)


@pytest.fixture
def store(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> CountingStore:
    return CountingStore(runtime, monkeypatch)


def multipart(fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]]) -> bytes:
    out = bytearray()
    for name, value in fields:
        out += f'--zz\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    for name, filename, content in files:
        out += (
            f'--zz\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        out += content + b"\r\n"
    return bytes(out + b"--zz--\r\n")


MULTIPART = {"Content-Type": "multipart/form-data; boundary=zz"}
EMPTY_PARTS = [("attachment_1", "", b"")] * 20_000


def csrf_of(
    client: TestClient, path: str = "/form?type=access&service=uno&relationship=self"
) -> str:
    page = client.get(path)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def test_twenty_thousand_empty_file_parts_touch_no_disk_and_stop_at_the_part_limit(
    client: TestClient, store: CountingStore
) -> None:
    body = multipart([], EMPTY_PARTS)
    assert len(body) > 2 * 1024 * 1024
    # /status takes no files; /form does, but its token is missing.
    # /status takes no files, so 64 KiB is all it reads (413); /form takes files, but the
    # token is missing (403 at the first file part).
    for path, status in (("/status", 413), ("/form", 403)):
        resp = client.post(path, content=body, headers=MULTIPART)
        assert resp.status_code == status, (path, resp.status_code)
    token = csrf_of(client)
    resp = client.post(
        "/form", content=multipart([("csrf_token", token)], EMPTY_PARTS), headers=MULTIPART
    )
    assert resp.status_code == 413
    assert "최대 100개" in resp.text
    assert store.opened == 0


def test_empty_file_inputs_of_a_real_form_are_ignored_without_a_blob(
    client: TestClient, store: CountingStore
) -> None:
    reference, code = file_request(client)
    token = csrf_of(client, "/status")
    fields = [("csrf_token", token), ("reference", reference), ("access_code", code)]
    files = [("attachment_1", "scan.pdf", PDF), ("attachment_2", "", b"")]
    resp = client.post("/status/documents", content=multipart(fields, files), headers=MULTIPART)
    assert resp.status_code == 200 and "서류를 제출했습니다" in resp.text
    assert store.opened == 1


# --- 3. files only after the token and the code ----------------------------------------------


def test_no_file_is_stored_before_the_csrf_token_and_the_access_code_are_checked(
    client: TestClient, store: CountingStore
) -> None:
    reference, code = file_request(client)
    big = [("attachment_1", "scan.pdf", PDF + b"0" * 1_000_000)]
    token = csrf_of(client, "/status")
    cases = {
        "no token": [("reference", reference), ("access_code", code)],
        "wrong token": [("csrf_token", "x" * 43), ("reference", reference), ("access_code", code)],
        "wrong code": [("csrf_token", token), ("reference", reference), ("access_code", "A" * 10)],
    }
    for case, fields in cases.items():
        resp = client.post("/status/documents", content=multipart(fields, big), headers=MULTIPART)
        assert resp.status_code in (403, 404), (case, resp.status_code)
    assert store.opened == 0
    # Forms that take no files refuse them before a byte is written, even with a good token
    # (and past MAX_BODY_BYTES they answer 413 without reading more).
    fields = [("csrf_token", token), ("reference", reference), ("access_code", code)]
    small = [("attachment_1", "scan.pdf", PDF)]
    for path in ("/status", "/status/withdraw", "/status/verify", "/status/objection"):
        resp = client.post(path, content=multipart(fields, small), headers=MULTIPART)
        assert resp.status_code == 415, (path, resp.status_code)
        assert "파일을 보낼 수 없습니다" in resp.text
    assert store.opened == 0
    # The right token and code: the file is taken.
    resp = client.post("/status/documents", content=multipart(fields, big), headers=MULTIPART)
    assert resp.status_code == 200 and "서류를 제출했습니다" in resp.text
    assert store.opened == 1


# --- read timeout and shutdown ----------------------------------------------------------------


def test_a_stalled_body_is_answered_408_and_frees_the_request(app: FastAPI) -> None:
    headers = {"content-type": "multipart/form-data; boundary=zz", "content-length": "100000"}
    answer = asgi_call(
        app, "POST", "/v1/requests", headers, chunks=10, chunk=b"--zz", stall_after=1
    )
    assert answer.status == 408
    assert b"request_timeout" in answer.body


@pytest.fixture
def serve_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("RIGHTSDESK_")}
    env.update(
        RIGHTSDESK_ENV="test",
        RIGHTSDESK_DATA_KEY=TEST_KEY,
        RIGHTSDESK_DATA_DIR=str(tmp_path / "var"),
        RIGHTSDESK_EMBEDDED_WORKER="false",
        RIGHTSDESK_GRACEFUL_SHUTDOWN_SECONDS="1",
        # Longer than the test: the shutdown bound, not the read timeout, must end it.
        RIGHTSDESK_BODY_IDLE_TIMEOUT_SECONDS="300",
    )
    from app.migrate import upgrade

    (tmp_path / "var").mkdir()
    upgrade(f"sqlite:///{tmp_path / 'var' / 'rightsdesk.db'}")
    yield env


@pytest.mark.slow
def test_sigterm_does_not_wait_for_a_stalled_upload(
    serve_env: dict[str, str], tmp_path: Path
) -> None:
    import httpx

    server = ServerProcess(serve_env, tmp_path / "server.log")
    url = server.start()
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as stalled:
        stalled.sendall(
            b"POST /v1/requests HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: multipart/form-data; boundary=zz\r\nContent-Length: 100000\r\n\r\n--zz"
        )
        # The server has taken the stalled request in once it answers one sent after it.
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        assert server.signal_group(signal.SIGTERM, timeout=15) == -signal.SIGTERM
