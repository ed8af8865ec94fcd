"""Builders shared by the test modules: requests filed through the API, staff desks, uploads,
the web form as a browser posts it. Test modules import these from here, never from each
other; fixtures live in tests/conftest.py."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.notice import Notice
from app.models.request import Request
from app.runtime import Runtime
from app.services.notices.outbox import Outbox
from app.web.csrf import COOKIE
from tests.conftest import carry_out, delegation_for, mailed_code, request_body, subject

Headers = Callable[..., dict[str, str]]


# --- the operator's command line ------------------------------------------------------------------


def rightsdesk(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# --- the public API: filing and its problem bodies ------------------------------------------------


PROBLEM = "application/problem+json"


def file(client: TestClient, body: dict[str, Any], **headers: str) -> Any:
    return client.post("/v1/requests", json=body, headers=headers)


def assert_problem(resp: Any, status: int, code: str, field: str | None = None) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body = resp.json()
    assert set(body) == {"type", "title", "status", "detail", "code", "errors"}
    assert body["code"] == code and body["status"] == status
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body["errors"]


def loosely_typed(reference: str) -> list[str]:
    """A reference as people type or paste it: lower case, no hyphens, O/I/L for 0/1, and
    spaces of every kind around it (tab, no-break space, the ideographic space)."""
    lookalike = reference.replace("0", "O").replace("1", "l")
    return [
        reference.lower(),
        reference.replace("-", ""),
        lookalike,
        f" {reference}\t",
        f"\u00a0{reference.lower()}\u00a0",
        f"\u3000{lookalike.replace('-', ' ')}\u3000",
    ]


# --- delegates and 위임장 -------------------------------------------------------------------


DELEGATE = {"name": "이대리", "birth_date": "1980-02-02", "email": "lee.daeri@example.com"}


def delegate_body(**delegation_overrides: Any) -> dict[str, Any]:
    subj = subject(email=None)
    return request_body(
        subject=subj,
        requester={"relationship": "delegate", **DELEGATE},
        delegation=delegation_for(subj, DELEGATE, **delegation_overrides),
    )


# --- small valid files (and one executable) for uploads -------------------------------------------


def png_bytes() -> bytes:
    """A valid 1x1 grey PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00\x80")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg_bytes() -> bytes:
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8" + app0 + b"\xff\xdb\x00\x43\x00" + bytes(range(64)) + b"\xff\xd9"


def pdf_bytes(padding: int = 0) -> bytes:
    body = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    return body + b"%" + b"x" * padding + b"\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00" + bytes(300)


# --- identity: a child, a parent, multipart uploads, the mailed one-time code ---------------------


CHILD = {"name": "박아동", "birth_date": "2013-06-01"}  # 13 on the day of receipt
PARENT = {
    "relationship": "legal_representative",
    "name": "박부모",
    "birth_date": "1985-07-07",
    "email": "park.parent@example.com",
}


def multipart(
    client: TestClient,
    url: str,
    files: list[tuple[str, str, bytes]],
    *,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """files: (kind, filename, bytes). The JSON goes in a part named `request`."""
    data: dict[str, Any] = {"attachment_kinds": [k for k, _, _ in files]}
    if body is not None:
        data["request"] = json.dumps(body, ensure_ascii=False)
    parts = [
        ("attachments", (name, content, "application/octet-stream")) for _, name, content in files
    ]
    return client.post(url, data=data, files=parts, headers=headers or {})


def evidence_files(runtime: Runtime) -> list[Path]:
    root = runtime.settings.evidence_dir
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def deliver_and_read_code(runtime: Runtime) -> str:
    """Run the outbox (files transport) and read the code the mail drop keeps beside the
    .eml, as a developer would."""
    Outbox(runtime).run_once()
    [eml] = sorted(runtime.settings.mail_dir.glob("*-verification_code-*.eml"))[-1:]
    return mailed_code(eml)


# --- the identity a grant waits for (Decree art. 46(1)) ----------------------------------------


# What staff record once they matched the subject's name, birth date and contact against the
# service's own records: the check every grant waits for (api.md "Identity bound to the account").
RECORD_MATCH = {"result": "verified", "method": "account_record_match"}


def match_account_record(client: TestClient, reference: str, headers: dict[str, str]) -> Any:
    """Record the account-record match the way staff do (POST …/identity, with If-Match), on
    a request still in identity_pending or already in review after its one-time code."""
    url = f"/v1/staff/requests/{reference}"
    etag = client.get(url, headers=headers).headers["etag"]
    resp = client.post(f"{url}/identity", json=RECORD_MATCH, headers={**headers, "If-Match": etag})
    assert resp.status_code == 200, resp.text
    return resp.json()


def verify_by_code(client: TestClient, runtime: Runtime, reference: str, access_code: str) -> Any:
    """The subject types the one-time code mailed to them: the request goes to review (and,
    with the code alone, is not yet bound to the account)."""
    code = deliver_and_read_code(runtime)
    resp = client.post(
        f"/v1/requests/{reference}/verification",
        json={"code": code},
        headers={"X-Access-Code": access_code},
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


# --- a deletion request carried through to its tasks ----------------------------------------------


class Case:
    """A 우노 customer's deletion request, verified, decided and approved through the API."""

    def __init__(self, client: TestClient, staff_headers: Headers, **body: Any) -> None:
        self.client = client
        # The agent reads and assigns; identity, decisions and tasks are the security team's.
        self.agent, self.officer = staff_headers("agent"), staff_headers("officer")
        self.handler = staff_headers("security")
        body.setdefault("subject", subject(phone="010-1234-5678"))
        created = file(client, request_body(**body)).json()
        self.ref, self.code = created["reference"], created["access_code"]
        self.url = f"/v1/staff/requests/{self.ref}"
        match_account_record(client, self.ref, self.handler)

    def etag(self) -> str:
        return str(self.client.get(self.url, headers=self.agent).headers["etag"])

    def write(self, path: str, body: dict[str, Any], who: dict[str, str] | None = None) -> Any:
        headers = {**(who or self.handler), "If-Match": self.etag()}
        resp = self.client.post(f"{self.url}/{path}", json=body, headers=headers)
        assert resp.status_code < 300, resp.text
        return resp.json()

    def decide_and_approve(self, **decision: Any) -> None:
        self.write("decision", {"outcome": "granted", **decision})
        self.write("approval", {"approve": True}, who=self.officer)

    def tasks(self) -> dict[str, Any]:
        resp = self.client.get(f"{self.url}/tasks", headers=self.agent)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def task(self, holder: str) -> dict[str, Any]:
        return next(t for t in self.tasks()["items"] if t["holder_code"] == holder)

    def act(self, holder: str, verb: str, body: dict[str, Any] | None = None,
            who: dict[str, str] | None = None) -> Any:  # fmt: skip
        task_id = self.task(holder)["id"]
        headers = {**(who or self.handler), "If-Match": self.etag()}
        return self.client.post(
            f"{self.url}/tasks/{task_id}/{verb}", json=body or {}, headers=headers
        )

    def status(self) -> str:
        return str(self.client.get(self.url, headers=self.agent).json()["status"])


# --- the web form as a browser posts it -----------------------------------------------------------


BOUNDARY = "----rightsdeskwebformtest"


def browser_multipart(
    fields: dict[str, Any], files: list[tuple[str, str, str, bytes]] | None = None
) -> tuple[bytes, dict[str, str]]:
    """Encode the form as a browser does, empty file inputs included (filename="")."""
    if files is None:
        files = [(f"attachment_{n}", "", "application/octet-stream", b"") for n in (1, 2, 3)]
    out = b""
    for name, value in fields.items():
        for v in value if isinstance(value, list) else [value]:
            out += (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{v}\r\n'
            ).encode()
    for name, filename, ctype, content in files:
        out += (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'
            ).encode()
            + content
            + b"\r\n"
        )
    out += f"--{BOUNDARY}--\r\n".encode()
    return out, {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


# The form's second step (the case chosen): the first step is a GET form with no token.
FORM_STEP = "/form?type=access&service=uno&relationship=self"


def csrf_token(client: TestClient, path: str = FORM_STEP) -> str:
    page = client.get(path)
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "no CSRF field on the page"
    assert client.cookies.get(COOKIE) == match.group(1)
    return match.group(1)


def form_fields(token: str | None, **overrides: str) -> dict[str, str]:
    fields = {
        "type": "access",
        "service": "uno",
        "subject_name": "김가상",
        "subject_birth_date": "1990-05-01",
        "subject_email": "kim.gasang@example.com",
        "relationship": "self",
        "website": "",
    }
    if token is not None:
        fields["csrf_token"] = token
    fields.update(overrides)
    return fields


def post_form(
    client: TestClient,
    fields: dict[str, Any],
    files: list[tuple[str, str, str, bytes]] | None = None,
) -> httpx.Response:
    body, headers = browser_multipart(fields, files)
    return client.post("/form", content=body, headers=headers)


def filed(db: Session) -> list[Request]:
    db.expire_all()
    return list(db.exec(select(Request)).all())


def dd_after(html: str, term: str) -> str:
    match = re.search(rf"<dt>{term}</dt><dd[^>]*>([^<]+)</dd>", html)
    assert match, f"{term} not on the page"
    return unescape(match.group(1)).strip()


# --- a request on the staff desk, and the notices it sends ----------------------------------------


ACCESS_TERMS = {"method": "electronic", "place": "요청 조회 화면에서 내려받기", "fee_krw": 0}


def deliver_access(client: TestClient, reference: str, headers: dict[str, str]) -> Any:
    """A granted access request's package: a PDF extract from every holder still to send one,
    uploaded by staff, then the release (the request completes when it is electronic)."""
    url = f"/v1/staff/requests/{reference}"
    listed = client.get(f"{url}/tasks", headers=headers)
    holders = [t["holder_code"] for t in listed.json()["items"] if t["status"] == "open"]
    if holders:
        resp = client.post(
            f"{url}/access-package/files",
            data={"holders": holders},
            files=[("files", (f"{h}.pdf", pdf_bytes(), "application/pdf")) for h in holders],
            headers={**headers, "If-Match": listed.headers["etag"]},
        )
        assert resp.status_code == 200, resp.text
    etag = client.get(url, headers=headers).headers["etag"]
    return client.post(
        f"{url}/access-package/release", json={}, headers={**headers, "If-Match": etag}
    )


class Desk:
    """A request on its way through the API, with the staff who handle it."""

    def __init__(self, client: TestClient, staff_headers: Headers, **body: Any) -> None:
        self.client = client
        self.agent = staff_headers("agent")  # reads; an agent does not handle (api.md)
        self.handler = staff_headers("security")
        self.officer = staff_headers("officer")
        self.officer2 = staff_headers("officer")
        created = file(client, request_body(**body)).json()
        self.ref, self.code = created["reference"], created["access_code"]
        match_account_record(client, self.ref, self.handler)

    def etag(self) -> str:
        return str(
            self.client.get(f"/v1/staff/requests/{self.ref}", headers=self.agent).headers["etag"]
        )

    def staff_write(
        self,
        path: str,
        body: dict[str, Any],
        who: dict[str, str] | None = None,
    ) -> Any:
        headers = {**(who or self.handler), "If-Match": self.etag()}
        return self.client.post(f"/v1/staff/requests/{self.ref}/{path}", json=body, headers=headers)

    def mine(self) -> dict[str, Any]:
        resp = self.client.get(f"/v1/requests/{self.ref}", headers={"X-Access-Code": self.code})
        return dict(resp.json())


# --- an SMS-only requester's decisions, read back whole (forms No. 9 and 10) ----------------------


PHONE = "010-5555-0101"
WITHHELD_REASON = "접속기록에 다른 직원의 기록이 함께 있어 그 부분은 제외합니다."
DELETION_WITH_RECORDS: dict[str, Any] = {
    "type": "deletion",
    "service": "smartcrm",
    "items": ["inquiry_contact", "contract_payment_records"],
}


def sms_only(client: TestClient, staff_headers: Headers, **body: Any) -> Desk:
    """A requester who gave only a mobile number (identity matched by staff on the way)."""
    return Desk(client, staff_headers, subject=subject(email=None, phone=PHONE), **body)


def partial_access(desk: Desk) -> None:
    """Form No. 9, partly: the access records withheld under art. 35(4)2 (another officer
    approves), then the holders' extracts in and the package released, which sends it."""
    decision = {
        "outcome": "partially_granted",
        "grounds": ["35-4-2"],
        "reason": WITHHELD_REASON,
        "items_granted": ["manager_name"],
        "items_withheld": ["access_records"],
        "access": ACCESS_TERMS,
    }
    assert desk.staff_write("decision", decision, who=desk.officer).status_code == 200
    ok = desk.staff_write("approval", {"approve": True}, who=desk.officer2)
    assert ok.json()["outcome"] == "partially_granted", ok.text
    released = deliver_access(desk.client, desk.ref, desk.handler)
    assert released.status_code == 200, released.text


def keep_payment_records(desk: Desk) -> None:
    """Form No. 10 for DELETION_WITH_RECORDS: the inquiry deleted, the payment records kept
    until their five-year date, carried out at every holder."""
    drafted = desk.staff_write(
        "decision",
        {
            "outcome": "partially_granted",
            "reason": "결제 기록은 법령에 따라 보관합니다.",
            "record_dates": {"ecommerce_contract": "2025-11-20", "ecommerce_advertising": None},
        },
    )
    assert drafted.status_code == 200, drafted.text
    desk.staff_write("approval", {"approve": True}, who=desk.officer)
    assert carry_out(desk.client, desk.ref, desk.handler)["request_status"] == "completed"


def notice_text(db: Session, runtime: Runtime, kind: str) -> str:
    db.expire_all()
    n = db.exec(select(Notice).where(Notice.kind == kind)).one()
    return runtime.vault.decrypt(n.body_enc, field="notice.body")


# --- staff filing on a requester's behalf ---------------------------------------------------------


def staff_file(client: TestClient, headers: dict[str, str], **overrides: Any) -> Any:
    body = request_body(channel="letter", received_at="2026-12-10T14:00:00+09:00")
    body.update(overrides)
    return client.post("/v1/staff/requests", json=body, headers=headers)
