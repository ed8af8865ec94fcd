"""The canary walk: synthetic personal data filed through every path, read back by staff.

Distinctive values that cannot occur by chance are filed through every way personal data gets
in (public JSON and multipart API, the web form, staff filing, a delegate's 위임장, replies,
information requests, internal notes, identity checks, decisions, approvals, objections,
postponements, task notes and evidence, a processor's confirmation, Channel Talk deliveries and
candidates), read back through every staff view, the register export and the notices.
`walk` does all that once under a real uvicorn and keeps what each surface needs; the
detectors below find the canaries in logs, rows, files and text. tests/test_canary.py has one
test per surface, so a failure names where personal data was found in clear.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlmodel import Session, SQLModel, col, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import app.models  # noqa: F401  (every table in the metadata)
from app.db import transaction
from app.integrations.chat import client_for
from app.models.channeltalk import InboundEvent
from app.models.decision import Decision
from app.models.request import Request
from app.models.staff import Role
from app.runtime import Runtime
from app.services.channeltalk.jobs import post_candidate_notes, reconcile
from app.services.notices.outbox import Outbox
from app.services.staff.accounts import add_staff
from app.settings import Settings
from tests.channeltalk_fake import FakeChannelTalk
from tests.conftest import T0, mailed_code
from tests.factories import RECORD_MATCH, browser_multipart, dd_after, png_bytes

Headers = Callable[..., dict[str, str]]

TOKEN = "ct-canary-webhook-token"
WEBHOOK = "/v1/integrations/channeltalk/webhook"
SENT_AT = T0 - timedelta(minutes=5)

RRN = "870319-1234567"  # a resident registration number's shape: must be masked, never stored
MASKED_RRN = "870319-1******"

# --- the canaries, by who files them and how -------------------------------------------------

# A: a subject filing a correction for themself through the public JSON API.
A = {
    "name": "캐나리가상인",
    "birth_date": "1987-03-19",
    "email": "canary.zq7x@example.com",
    "phone": "010-7391-2846",
}
A_DETAILS_TOKEN = "캐나리상세문장XQ"
A_DETAILS = f"{A_DETAILS_TOKEN} 주민등록번호 {RRN} 입니다"
A_CURRENT = "캐나리현재값QC"
A_CORRECTION = "캐나리정정값QZ"
A_NOTE = "캐나리메모QM"  # staff internal note (PATCH)
A_INFO = "캐나리보완요청문QI"  # staff information request
A_REPLY_TOKEN = "캐나리답변문QR"
A_REPLY = f"{A_REPLY_TOKEN} 주민번호 {RRN}"  # the requester's reply
A_CHANGES = "캐나리변경내용QD"  # the decision's changes
A_TASK_NOTE = "캐나리작업메모QT"
A_PROCESSOR_NOTE = "캐나리처리자메모QP"  # typed by a processor on the confirmation page
A_EVIDENCE_FILE = "캐나리증빙QE.pdf"

# B: a delegate with a 위임장, through the public multipart API.
B = {
    "name": "캐나리위임인",
    "birth_date": "1969-08-14",
    "email": "canary.dgr.w2j@example.com",
    "phone": "010-3318-2706",
}
B_DELEGATE = {
    "name": "캐나리대리인",
    "birth_date": "1979-11-23",
    "email": "canary.dlg.k3m@example.com",
    "phone": "010-5820-4417",
}
B_DELEGATOR_ADDRESS = "캐나리시 예시로 77"
B_DELEGATE_ADDRESS = "캐나리군 대리로 88"
B_RELATIONSHIP = "캐나리관계QL"
B_DETAILS_TOKEN = "캐나리대리상세QH"
B_DETAILS = f"{B_DETAILS_TOKEN} {RRN}"
B_POA_FILE = "캐나리위임장.pdf"
B_ID_FILE = "캐나리신분증.pdf"
B_SUPPLEMENT_FILE = "캐나리보완서류.png"
B_ID_NOTE = "캐나리확인메모QN"  # staff identity check note
B_REASON = "캐나리사유QY"  # refusal reason
B_APPROVAL_NOTE = "캐나리승인메모QA"
B_OBJECTION_TOKEN = "캐나리이의문QO"
B_OBJECTION = f"{B_OBJECTION_TOKEN} {RRN}"
FILE_CONTENT = "캐나리문서내용QB"  # inside the uploaded PDFs

# C: a delegate through the web form (HTML, CSRF), then the status page.
C = {
    "name": "캐나리웹정보주체",
    "birth_date": "1991-07-27",
    "email": "canary.web.h2n@example.com",
    "phone": "010-6604-1187",
}
C_DELEGATE = {
    "name": "캐나리웹대리인",
    "birth_date": "1983-04-09",
    "email": "canary.webdlg.u8y@example.com",
    "phone": "010-2957-3360",
}
C_DELEGATOR_ADDRESS = "캐나리읍 웹길 12"
C_DELEGATE_ADDRESS = "캐나리면 폼로 34"
C_RELATIONSHIP = "캐나리웹관계QG"
C_DETAILS_TOKEN = "캐나리웹상세QW"
C_DETAILS = f"{C_DETAILS_TOKEN} {RRN}"
C_CURRENT = "캐나리웹현재QU"
C_CORRECTION = "캐나리웹정정QF"
C_POA_FILE = "캐나리웹위임장.png"
C_ID_FILE = "캐나리웹신분증.pdf"

# D: a letter, filed by staff.
D = {
    "name": "캐나리서면인",
    "birth_date": "1975-01-30",
    "email": "canary.letter.v6b@example.com",
    "phone": "010-4162-9035",
}
D_DETAILS_TOKEN = "캐나리서면상세QS"
D_DETAILS = f"{D_DETAILS_TOKEN} {RRN}"
D_POSTPONEMENT = "캐나리연기사유QV"

# E: a Channel Talk customer; F: a low-confidence chat message that staff confirm; G: a
# message whose delivery was lost, found by the reconciliation.
E = {"name": "캐나리채팅고객", "email": "canary.ct.p5v@example.com", "mobile": "+821064829173"}
E_FIRST_TOKEN = "캐나리채팅문장QC"
E_FIRST = f"제 개인정보를 삭제해 주세요. 회원 탈퇴도 원합니다. {E_FIRST_TOKEN} 주민번호 {RRN}"
E_LATER = "캐나리채팅후속QX 저는 캐나리채팅고객 입니다"
E_INFO = "캐나리채팅보완QJ"
E_REPLY_TOKEN = "캐나리채팅답변QW"
E_REPLY = f"{E_REPLY_TOKEN} {RRN}"
F = {"name": "캐나리후보고객", "email": "canary.cand.r4t@example.com", "mobile": "+821052716648"}
G = {"name": "캐나리복구고객", "email": "canary.rec.m7z@example.com", "mobile": "+821038461950"}
G_TOKEN = "캐나리복구문장QN"
G_TEXT = f"제 개인정보 삭제를 요청합니다. {G_TOKEN} 주민번호 {RRN}"
F_TOKEN = "캐나리후보문장QK"
F_TEXT = f"전화번호 변경하려면 어떻게 하나요? {F_TOKEN}"


# Label -> value. Each must never be found in clear; all but the RRN must be read back.
CANARIES: dict[str, str] = {
    **{f"A.{k}": v for k, v in A.items()},
    "A.details": A_DETAILS_TOKEN,
    "A.correction.current": A_CURRENT,
    "A.correction.requested": A_CORRECTION,
    "A.internal_note": A_NOTE,
    "A.info_request": A_INFO,
    "A.reply": A_REPLY_TOKEN,
    "A.decision.changes": A_CHANGES,
    "A.task.note": A_TASK_NOTE,
    "A.task.processor_note": A_PROCESSOR_NOTE,
    "A.task.evidence_filename": A_EVIDENCE_FILE,
    **{f"B.subject.{k}": v for k, v in B.items()},
    **{f"B.delegate.{k}": v for k, v in B_DELEGATE.items()},
    "B.delegator_address": B_DELEGATOR_ADDRESS,
    "B.delegate_address": B_DELEGATE_ADDRESS,
    "B.relationship_to_subject": B_RELATIONSHIP,
    "B.details": B_DETAILS_TOKEN,
    "B.poa_filename": B_POA_FILE,
    "B.id_filename": B_ID_FILE,
    "B.supplement_filename": B_SUPPLEMENT_FILE,
    "B.identity_note": B_ID_NOTE,
    "B.decision.reason": B_REASON,
    "B.approval_note": B_APPROVAL_NOTE,
    "B.objection": B_OBJECTION_TOKEN,
    **{f"C.subject.{k}": v for k, v in C.items()},
    **{f"C.delegate.{k}": v for k, v in C_DELEGATE.items()},
    "C.delegator_address": C_DELEGATOR_ADDRESS,
    "C.delegate_address": C_DELEGATE_ADDRESS,
    "C.relationship_to_subject": C_RELATIONSHIP,
    "C.details": C_DETAILS_TOKEN,
    "C.correction.current": C_CURRENT,
    "C.correction.requested": C_CORRECTION,
    "C.poa_filename": C_POA_FILE,
    "C.id_filename": C_ID_FILE,
    **{f"D.{k}": v for k, v in D.items()},
    "D.details": D_DETAILS_TOKEN,
    "D.postponement_reason": D_POSTPONEMENT,
    **{f"E.{k}": v for k, v in E.items()},
    "E.first_message": E_FIRST_TOKEN,
    "E.later_message": E_LATER,
    "E.info_request": E_INFO,
    "E.reply": E_REPLY_TOKEN,
    "F.message": F_TOKEN,
    **{f"G.{k}": v for k, v in G.items()},
    "G.message": G_TOKEN,
}
# Other spellings of the same data, searched for too (never expected back verbatim).
ALSO_NEVER: dict[str, str] = {
    "RRN": RRN,
    "RRN.digits": RRN.replace("-", ""),
    "RRN.back": RRN.split("-")[1],
    "file.content": FILE_CONTENT,
    # A candidate keeps only the message: the profile is not stored when staff file it.
    **{f"F.{k}": v for k, v in F.items()},
}
for _who, _person in (
    ("A", A),
    ("B.subject", B),
    ("B.delegate", B_DELEGATE),
    ("C.subject", C),
    ("C.delegate", C_DELEGATE),
    ("D", D),
):
    _digits = _person["phone"].replace("-", "")
    ALSO_NEVER[f"{_who}.phone.digits"] = _digits
    ALSO_NEVER[f"{_who}.phone.subscriber"] = _digits[3:]
    ALSO_NEVER[f"{_who}.birth_date.digits"] = _person["birth_date"].replace("-", "")
    ALSO_NEVER[f"{_who}.email.local"] = _person["email"].split("@")[0]
for _who, _person in (("E", E), ("F", F), ("G", G)):
    ALSO_NEVER[f"{_who}.mobile.national"] = "0" + _person["mobile"].removeprefix("+82")
    ALSO_NEVER[f"{_who}.mobile.subscriber"] = _person["mobile"][-8:]
    ALSO_NEVER[f"{_who}.email.local"] = _person["email"].split("@")[0]
NEVER_IN_CLEAR = {**CANARIES, **ALSO_NEVER}


def spellings(value: str) -> set[str]:
    """The value as UTF-8 text, JSON-escaped, URL-encoded and as a bytes repr."""
    out = {
        value,
        json.dumps(value)[1:-1],  # ensure_ascii: \\uce90...
        json.dumps(value)[1:-1].upper().replace("\\U", "\\u"),
        quote(value),
        quote_plus(value),
        repr(value.encode())[2:-1],  # \\xec\\xba\\x90...
    }
    return {s for s in out if s}


SEARCH: list[tuple[str, str]] = sorted(
    {(label, s) for label, value in NEVER_IN_CLEAR.items() for s in spellings(value)}
)


def found_in(text: str) -> list[str]:
    return sorted({label for label, s in SEARCH if s in text})


def found_in_bytes(data: bytes) -> list[tuple[str, int]]:
    hits = []
    for label, s in SEARCH:
        at = data.find(s.encode())
        if at >= 0:
            hits.append((label, at))
    return hits


def pdf_with_canary() -> bytes:
    return (
        b"%PDF-1.4\n% " + FILE_CONTENT.encode() + b"\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
        b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"
    )


# --- capturing every log record -------------------------------------------------------------


class Records(logging.Handler):
    """Keeps every record it is given."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def every_logger_at_debug() -> Iterator[list[logging.LogRecord]]:
    """DEBUG on the root and on every logger that has a level of its own (alembic's fileConfig
    and uvicorn's dictConfig leave some at WARNING, some not propagating), every record into
    one list; all restored after."""
    names = ["", "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"]
    names += [
        n for n, lg in logging.root.manager.loggerDict.items() if isinstance(lg, logging.Logger)
    ]
    handler = Records()
    root = logging.getLogger()
    levels: dict[str, int] = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        # Only this handler and no stream: alembic's fileConfig left a console handler on the
        # root, and pytest's report of the flood at DEBUG would bury a failure's message.
        handlers: list[logging.Handler] = [handler]
        handlers += [h for h in root.handlers if not isinstance(h, logging.StreamHandler)]
        monkeypatch.setattr(root, "handlers", handlers)
        for name in dict.fromkeys(names):
            logger = logging.getLogger(name)
            levels[name] = logger.level
            logger.setLevel(logging.DEBUG)
            monkeypatch.setattr(logger, "propagate", True)
            monkeypatch.setattr(logger, "disabled", False)
        try:
            yield handler.records
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


class ReplyAfterCommit:
    """Holds each HTTP response until the app has returned.

    FastAPI closes dependencies with yield only after the response has been sent, and
    app.deps.get_session commits there: under a real server a client's next request can come in
    before the previous one's commit (a 404 for a request just filed, a stale ETag). This test
    is about where the data goes, not that race, so it waits for the commit as TestClient does.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        for message in held:
            await send(message)


class Served:
    """The app under a real uvicorn with its access log on, logging through the root logger."""

    def __init__(self, app: FastAPI, port: int) -> None:
        config = uvicorn.Config(
            ReplyAfterCommit(app),
            host="127.0.0.1",
            port=port,
            log_level="debug",
            access_log=True,
            log_config=None,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.base = f"http://127.0.0.1:{port}"

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started, "uvicorn did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


# --- driving the service --------------------------------------------------------------------


class Desk:
    """HTTP calls as the requester, the staff and the processor make them."""

    def __init__(self, http: httpx.Client, runtime: Runtime, staff_headers: Headers) -> None:
        self.http = http
        self.rt = runtime
        self.agent = staff_headers("agent")
        self.officer = staff_headers("officer")
        self.security = staff_headers("security")
        # Every decrypted page staff read: (method and URL, its text, its JSON if any).
        self.views: list[tuple[str, str, Any]] = []

    def ok(self, resp: httpx.Response, status: int = 200) -> httpx.Response:
        assert resp.status_code == status, f"{resp.request.method} {resp.request.url}: {resp.text}"
        return resp

    def seen(self, resp: httpx.Response) -> Any:
        where = f"{resp.request.method} {resp.request.url.path}"
        if resp.headers.get("content-type", "").startswith("application/json"):
            data = resp.json()
            self.views.append((where, json.dumps(data, ensure_ascii=False), data))
            return data
        self.views.append((where, resp.text, None))
        return resp.text

    def detail(self, ref: str) -> dict[str, Any]:
        resp = self.ok(self.http.get(f"/v1/staff/requests/{ref}", headers=self.agent))
        data: dict[str, Any] = self.seen(resp)
        return data

    def write(
        self, ref: str, path: str, body: dict[str, Any], who: dict[str, str] | None = None
    ) -> dict[str, Any]:
        url = f"/v1/staff/requests/{ref}"
        etag = self.ok(self.http.get(url, headers=self.agent)).headers["etag"]
        headers = {**(who or self.security), "If-Match": etag}
        if path == "":
            resp = self.http.patch(url, json=body, headers=headers)
        else:
            resp = self.http.post(f"{url}/{path}", json=body, headers=headers)
        data: dict[str, Any] = self.seen(self.ok(resp))
        return data

    def mine(self, ref: str, code: str) -> dict[str, Any]:
        resp = self.http.get(f"/v1/requests/{ref}", headers={"X-Access-Code": code})
        data: dict[str, Any] = self.ok(resp).json()
        return data

    def deliver_all(self) -> None:
        while Outbox(self.rt).run_once():
            pass

    def mails(self, ref: str, kind: str = "*") -> list[str]:
        out = []
        for path in sorted(self.rt.settings.mail_dir.glob(f"{ref}-{kind}-*.eml")):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            body = message.get_body()
            assert body is not None
            out.append(str(body.get_content()))
        return out

    def code_for(self, ref: str) -> str:
        self.deliver_all()
        [eml] = sorted(self.rt.settings.mail_dir.glob(f"{ref}-verification_code-*.eml"))[-1:]
        return mailed_code(eml)

    def csrf(self, path: str) -> str:
        page = self.ok(self.http.get(path))
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match, page.text
        return match.group(1)


def multipart_parts(files: list[tuple[str, str, bytes]]) -> tuple[dict[str, Any], list[Any]]:
    data: dict[str, Any] = {"attachment_kinds": [k for k, _, _ in files]}
    parts = [
        ("attachments", (name, content, "application/octet-stream")) for _, name, content in files
    ]
    return data, parts


# --- the paths ------------------------------------------------------------------------------


def public_json_correction(desk: Desk) -> str:
    """A: JSON filing, one-time code, internal note, 보완 요청 and reply, a correction decided
    and carried out: staff tasks with notes and evidence, a processor through its link."""
    http = desk.http
    body = {
        "type": "correction",
        "service": "uno",
        "subject": A,
        "items": ["manager_name"],
        "details": A_DETAILS,
        "correction": {
            "item": "manager_name",
            "current_value": A_CURRENT,
            "requested_value": A_CORRECTION,
        },
    }
    created = desk.ok(http.post("/v1/requests", json=body), 201).json()
    ref, access = str(created["reference"]), str(created["access_code"])
    code = desk.code_for(ref)
    h = {"X-Access-Code": access}
    verified = desk.ok(
        http.post(f"/v1/requests/{ref}/verification", json={"code": code}, headers=h)
    )
    assert verified.json()["status"] == "in_review"

    desk.write(ref, "", {"note": A_NOTE})
    asked = desk.write(ref, "info-requests", {"message": A_INFO, "respond_by": "2026-12-20"})
    assert asked["status"] == "awaiting_requester"
    desk.ok(http.post(f"/v1/requests/{ref}/replies", json={"message": A_REPLY}, headers=h))
    # The code proved the contact; staff bind the request to the account before granting.
    desk.write(ref, "identity", RECORD_MATCH)
    decided = desk.write(
        ref,
        "decision",
        {"outcome": "granted", "items_granted": ["manager_name"], "changes": A_CHANGES},
    )
    assert decided["status"] == "executing", decided

    url = f"/v1/staff/requests/{ref}/tasks"
    page = desk.seen(desk.ok(http.get(url, headers=desk.agent)))
    open_tasks = [t for t in page["items"] if t["status"] == "open"]
    assert len(open_tasks) >= 2, page
    # A processor answers through the link in the instruction e-mail it was sent.
    desk.deliver_all()
    links = [
        m.group(1)
        for text in desk.mails(ref)
        for m in re.finditer(r"http://127\.0\.0\.1:\d+(/tasks/confirm\?token=\S+)", text)
    ]
    assert links, "no processor instruction with a confirmation link"
    confirm_page = desk.ok(http.get(links[0]))
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', confirm_page.text)
    token = re.search(r'name="token" value="([^"]+)"', confirm_page.text)
    methods = re.findall(r'name="(method_\w+)" value="([^"]+)"', confirm_page.text)
    assert csrf and token and methods, confirm_page.text
    form = {"csrf_token": csrf.group(1), "token": token.group(1), "note": A_PROCESSOR_NOTE}
    form.update(dict(methods))  # one method for each action asked
    done = desk.ok(http.post("/tasks/confirm", data=form))
    assert "조치 완료가 확인되었습니다" in done.text, done.text

    page = desk.seen(desk.ok(http.get(url, headers=desk.agent)))
    remaining = [t for t in page["items"] if t["status"] == "open"]
    assert remaining, page
    listed = desk.ok(http.get(url, headers=desk.agent))
    security = {**desk.security, "If-Match": listed.headers["etag"]}  # task writes: If-Match
    evidence = desk.ok(
        http.post(
            f"{url}/{remaining[0]['id']}/evidence",
            files=[("attachments", (A_EVIDENCE_FILE, pdf_with_canary(), "application/pdf"))],
            headers=security,
        )
    )
    desk.seen(evidence)
    for task in remaining:
        actions = [{"action": "corrected", "method": "record_updated"}]
        resp = http.post(
            f"{url}/{task['id']}/complete",
            json={"actions": actions, "note": A_TASK_NOTE},
            headers=security,
        )
        page = desk.seen(desk.ok(resp))
        security["If-Match"] = resp.headers["etag"]
    assert page["request_status"] == "completed", page
    desk.seen(desk.ok(http.get(f"/v1/staff/requests/{ref}/certificate", headers=desk.agent)))
    return ref


def public_multipart_delegate(desk: Desk) -> list[str]:
    """B: a delegate files with 위임장 fields and two files, supplements a third; staff check
    identity with a note, download a file, refuse with a reason, the officer approves with a
    note, and the requester objects."""
    http = desk.http
    body = {
        "type": "access",
        "service": "uno",
        "subject": B,
        "requester": {"relationship": "delegate", **B_DELEGATE},
        "delegation": {
            "delegator_name": B["name"],
            "delegator_birth_date": B["birth_date"],
            "delegator_phone": B["phone"],
            "delegator_address": B_DELEGATOR_ADDRESS,
            "delegate_name": B_DELEGATE["name"],
            "delegate_birth_date": B_DELEGATE["birth_date"],
            "delegate_phone": B_DELEGATE["phone"],
            "delegate_address": B_DELEGATE_ADDRESS,
            "relationship_to_subject": B_RELATIONSHIP,
            "scope": ["access"],
            "signed_on": "2026-12-10",
        },
        "details": B_DETAILS,
    }
    data, parts = multipart_parts(
        [
            ("power_of_attorney", B_POA_FILE, pdf_with_canary()),
            ("identity_document", B_ID_FILE, pdf_with_canary()),
        ]
    )
    data["request"] = json.dumps(body, ensure_ascii=False)
    created = desk.ok(http.post("/v1/requests", data=data, files=parts), 201).json()
    ref, access = str(created["reference"]), str(created["access_code"])
    h = {"X-Access-Code": access}
    data, parts = multipart_parts([("other", B_SUPPLEMENT_FILE, png_bytes())])
    desk.ok(http.post(f"/v1/requests/{ref}/attachments", data=data, files=parts, headers=h), 201)

    detail = desk.detail(ref)
    assert len(detail["attachments"]) == 3, detail
    poa = next(a for a in detail["attachments"] if a["kind"] == "power_of_attorney")
    got = http.get(f"/v1/staff/requests/{ref}/attachments/{poa['id']}", headers=desk.security)
    assert desk.ok(got).content == pdf_with_canary()  # decrypted for staff, intact
    checked = desk.write(
        ref, "identity", {"result": "verified", "method": "id_copy", "note": B_ID_NOTE}
    )
    assert checked["status"] == "in_review", checked
    drafted = desk.write(
        ref, "decision", {"outcome": "refused", "grounds": ["35-4-1"], "reason": B_REASON}
    )
    assert drafted["status"] == "awaiting_approval", drafted
    approved = desk.write(
        ref, "approval", {"approve": True, "note": B_APPROVAL_NOTE}, who=desk.officer
    )
    assert approved["status"] == "completed", approved
    objected = http.post(f"/v1/requests/{ref}/objections", json={"reason": B_OBJECTION}, headers=h)
    objection_ref = str(desk.ok(objected, 201).json()["reference"])
    return [ref, objection_ref]


def web_form_delegate(desk: Desk) -> str:
    """C: a delegate's correction through the HTML form with a 위임장 scan, then the ID through
    the status page; staff verify."""
    http = desk.http
    token = desk.csrf("/form?type=correction&service=uno&relationship=delegate")
    fields: dict[str, Any] = {
        "csrf_token": token,
        "type": "correction",
        "service": "uno",
        "subject_name": C["name"],
        "subject_birth_date": C["birth_date"],
        "subject_email": C["email"],
        "subject_phone": C["phone"],
        "relationship": "delegate",
        "requester_name": C_DELEGATE["name"],
        "requester_birth_date": C_DELEGATE["birth_date"],
        "requester_email": C_DELEGATE["email"],
        "requester_phone": C_DELEGATE["phone"],
        "delegator_phone": C["phone"],
        "delegator_address": C_DELEGATOR_ADDRESS,
        "delegate_phone": C_DELEGATE["phone"],
        "delegate_address": C_DELEGATE_ADDRESS,
        "relationship_to_subject": C_RELATIONSHIP,
        "signed_on": "2026-12-10",
        "scope": ["correction_deletion"],
        "correction_item": "manager_name",
        "correction_current": C_CURRENT,
        "correction_requested": C_CORRECTION,
        "items": ["uno:manager_name"],
        "details": C_DETAILS,
        "website": "",
        "kind_1": "power_of_attorney",
        "kind_2": "identity_document",
        "kind_3": "other",
    }
    content, headers = browser_multipart(
        fields,
        [
            ("attachment_1", C_POA_FILE, "image/png", png_bytes()),
            ("attachment_2", "", "application/octet-stream", b""),
            ("attachment_3", "", "application/octet-stream", b""),
        ],
    )
    resp = desk.ok(http.post("/form", content=content, headers=headers))
    assert "접수번호" in resp.text, resp.text
    ref, access = dd_after(resp.text, "접수번호"), dd_after(resp.text, "확인코드")

    base = {"csrf_token": desk.csrf("/status"), "reference": ref, "access_code": access}
    content, headers = browser_multipart(
        {**base, "kind_1": "identity_document", "kind_2": "other", "kind_3": "other"},
        [
            ("attachment_1", C_ID_FILE, "application/pdf", pdf_with_canary()),
            ("attachment_2", "", "application/octet-stream", b""),
            ("attachment_3", "", "application/octet-stream", b""),
        ],
    )
    up = desk.ok(http.post("/status/documents", content=content, headers=headers))
    assert "서류를 제출했습니다" in up.text, up.text
    desk.ok(http.post("/status", data=base))
    checked = desk.write(ref, "identity", {"result": "verified", "method": "id_copy"})
    assert checked["status"] == "in_review", checked
    return ref


def staff_letter(desk: Desk) -> str:
    """D: a letter filed by staff; verified, then access postponed with a reason."""
    body = {
        "type": "access",
        "service": "uno",
        "subject": D,
        "details": D_DETAILS,
        "channel": "letter",
        "received_at": (T0 - timedelta(hours=2)).isoformat(),
    }
    resp = desk.http.post("/v1/staff/requests", json=body, headers=desk.agent)
    ref = str(desk.ok(resp, 201).json()["reference"])
    desk.write(ref, "identity", {"result": "verified", "method": "account_record_match"})
    postponed = desk.write(
        ref, "postponement", {"reason": D_POSTPONEMENT, "expected_end": "2027-01-20"}
    )
    assert postponed["status"] == "postponed", postponed
    return ref


def channel_talk(desk: Desk, fake: FakeChannelTalk, db: Session) -> list[str]:
    """E: a chat message files a deletion; the code mailed to the profile's e-mail is typed into
    the chat; a later message joins; a 보완 요청 is answered in the chat. F: a low-confidence
    message becomes a candidate that staff file. G: a lost delivery, found by reconciliation."""
    hook = f"{desk.http.base_url}{WEBHOOK}"
    fake.add_user("user-canary-e", type="lead", **E)
    fake.add_chat("chat-canary-e", "user-canary-e")
    fake.add_user("user-canary-f", type="lead", **F)
    fake.add_chat("chat-canary-f", "user-canary-f")
    fake.add_user("user-canary-g", type="lead", **G)
    fake.add_chat("chat-canary-g", "user-canary-g")
    fake.set_webhook(hook, TOKEN)
    sent = 0

    def say(chat: str, user: str, text: str, message_id: str) -> None:
        nonlocal sent
        event = fake.message_event(
            chat, user, text, message_id=message_id, created_at_ms=int(SENT_AT.timestamp() * 1000)
        )
        assert fake.deliver(hook, TOKEN, event).status_code == 200
        sent += 1
        deadline = time.monotonic() + 10
        while True:
            db.expire_all()
            events = db.exec(select(InboundEvent)).all()
            if sum(e.status in ("done", "ignored", "failed") for e in events) >= sent:
                assert all(e.status == "done" for e in events), [(e.kind, e.status) for e in events]
                return
            assert time.monotonic() < deadline, [(e.kind, e.status) for e in events]
            time.sleep(0.02)

    say("chat-canary-e", "user-canary-e", E_FIRST, "e1")
    db.expire_all()
    [request] = db.exec(select(Request).where(Request.channel == "channeltalk")).all()
    ref = request.reference
    say("chat-canary-e", "user-canary-e", desk.code_for(ref), "e2")
    say("chat-canary-e", "user-canary-e", E_LATER, "e3")
    assert desk.detail(ref)["status"] == "in_review"
    asked = desk.write(ref, "info-requests", {"message": E_INFO})
    assert asked["status"] == "awaiting_requester", asked
    say("chat-canary-e", "user-canary-e", E_REPLY, "e4")
    assert desk.detail(ref)["status"] == "in_review"

    say("chat-canary-f", "user-canary-f", F_TEXT, "f1")
    assert post_candidate_notes(desk.rt, client_for(desk.rt.settings)) == 1
    candidates = desk.seen(
        desk.ok(desk.http.get("/v1/staff/channeltalk/candidates", headers=desk.agent))
    )
    [candidate] = candidates["items"]
    filed = desk.http.post(
        f"/v1/staff/channeltalk/candidates/{candidate['id']}/file",
        json={"type": "correction"},
        headers=desk.agent,
    )
    candidate_ref = str(desk.ok(filed, 201).json()["reference"])

    fake.add_user_message(
        "chat-canary-g", G_TEXT, message_id="g1", created_at_ms=int(SENT_AT.timestamp() * 1000)
    )
    assert reconcile(desk.rt, client_for(desk.rt.settings))["messages_recovered"] == 1
    db.expire_all()
    [lost] = db.exec(select(Request).where(col(Request.id) > request.id)).all()[-1:]
    assert lost.reference != candidate_ref
    return [ref, candidate_ref, lost.reference]


def json_paths(data: Any, needle: str, path: str = "") -> list[str]:
    """Where in a JSON document a string holding `needle` is, with the string."""
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in json_paths(v, needle, f"{path}.{k}")]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in json_paths(v, needle, f"{path}[{i}]")]
    return [f"{path or '.'} = {data!r}"] if needle in str(data) else []


# --- what is stored -------------------------------------------------------------------------


def excerpt(text: str, labels: list[str]) -> str:
    """Some text around the first hit of the first label."""
    at = min(
        (text.find(sp) for label, sp in SEARCH if label == labels[0] and sp in text), default=0
    )
    return repr(text[max(0, at - 100) : at + 100])


def log_findings(records: list[logging.LogRecord]) -> list[str]:
    """Every record's message, exception and extra fields; one line per logger, level and set
    of canaries, with how many records and the first one's text."""
    standard = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}
    texts = []
    for rec in records:
        try:
            parts = [rec.getMessage()]
        except Exception:  # a record whose args do not fit its message: show both
            parts = [str(rec.msg), repr(rec.args)]
        if rec.exc_info:
            parts.append("".join(traceback.format_exception(*rec.exc_info)))
        parts += [rec.exc_text or "", rec.stack_info or ""]
        parts += [f"{k}={v!r}" for k, v in vars(rec).items() if k not in standard]
        texts.append("\n".join(parts))
    if not found_in("\n".join(texts)):
        return []
    groups: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}
    for rec, text in zip(records, texts, strict=True):
        if labels := found_in(text):
            groups.setdefault((rec.name, rec.levelname, tuple(labels)), []).append(text)
    return [
        f"log {name} [{level}] x{len(hits)} has {', '.join(labels)}: "
        f"{excerpt(hits[0], list(labels))}"
        for (name, level, labels), hits in groups.items()
    ]


def row_findings(runtime: Runtime) -> tuple[list[str], bytes]:
    """Every value of every row as the database returns it; one line per column and set of
    canaries, with the rows' ids and the first value."""
    dump = []
    groups: dict[tuple[str, tuple[str, ...]], list[tuple[object, str]]] = {}
    with runtime.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(table.select()):
                mapping = row._mapping
                for column, value in mapping.items():
                    text = repr(value)
                    dump.append(text)
                    if labels := found_in(text):
                        key = mapping.get("id", mapping.get("key"))
                        where = f"{table.name}.{column}"
                        groups.setdefault((where, tuple(labels)), []).append((key, text))
    out = [
        f"db {where} (rows {[k for k, _ in hits]}) has {', '.join(labels)}: "
        f"{excerpt(hits[0][1], list(labels))}"
        for (where, labels), hits in groups.items()
    ]
    return out, "".join(dump).encode()


def file_findings(root: Path, skip: Path) -> tuple[list[str], list[Path]]:
    out, read = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.is_relative_to(skip):
            continue
        read.append(path)
        for label in found_in(str(path.relative_to(root))):
            out.append(f"file name {path.relative_to(root)} has {label}")
        data = path.read_bytes()
        for label, at in found_in_bytes(data):
            context = data[max(0, at - 80) : at + 80]
            out.append(f"file {path.relative_to(root)} has {label} at byte {at}: {context!r}")
    return out, read


# --- the walk -------------------------------------------------------------------------------


def staff_maker(runtime: Runtime, clock: Callable[[], datetime]) -> Headers:
    """Make a staff member with a role; returns the Authorization header for their token."""
    counter = iter(range(1, 1000))

    def make(role: str = "security", name: str | None = None) -> dict[str, str]:
        with transaction(runtime.engine) as session:
            created = add_staff(
                session, name=name or f"{role}-{next(counter)}", role=Role(role), now=clock()
            )
        return {"Authorization": f"Bearer {created.token}"}

    return make


@dataclass
class Walk:
    """What the walk left for each surface to be searched."""

    runtime: Runtime
    settings: Settings
    root: Path  # the data directory and the SQLite file are under it
    refs: dict[str, list[str]]
    views: list[tuple[str, str, Any]]  # every decrypted page staff read
    records: list[logging.LogRecord]  # every log record of the walk, uvicorn's access log too
    live_files: list[str]  # file findings while the service ran (the SQLite WAL was there)
    chat_messages: list[str]  # what the service posted back into the chat
    metrics: str  # GET /metrics after the walk


def walk(
    app: FastAPI, runtime: Runtime, settings: Settings, fake: FakeChannelTalk, port: int, root: Path
) -> Walk:
    staff_headers = staff_maker(runtime, runtime.clock)
    refs: dict[str, list[str]] = {}
    with (
        every_logger_at_debug() as records,
        Served(app, port) as served,
        httpx.Client(base_url=served.base, timeout=20) as http,
        Session(runtime.engine) as db,
    ):
        desk = Desk(http, runtime, staff_headers)
        refs["A public JSON"] = [public_json_correction(desk)]
        refs["B public multipart"] = public_multipart_delegate(desk)
        refs["C web form"] = [web_form_delegate(desk)]
        refs["D staff filing"] = [staff_letter(desk)]
        refs["E/F Channel Talk"] = channel_talk(desk, fake, db)
        desk.deliver_all()

        # Everything read back: details (every request), notices, the register with names.
        every = [ref for group in refs.values() for ref in group]
        assert len(set(every)) == 8, refs  # A, B, B's objection, C, D, E, F, G
        db.expire_all()
        assert sorted(db.exec(select(Request.reference)).all()) == sorted(every)
        for ref in every:
            desk.detail(ref)
            desk.seen(desk.ok(http.get(f"/v1/staff/requests/{ref}/notices", headers=desk.agent)))
        register = http.get(
            "/v1/staff/reports/register.csv",
            params={"from": "2026-12-01", "to": "2026-12-31", "personal": "true"},
            headers=desk.security,
        )
        desk.seen(desk.ok(register))
        metrics = desk.ok(http.get("/metrics", headers=desk.agent)).text
        # The SQLite WAL goes when the last connection closes: read the files while it is there.
        live_files, _ = file_findings(root, settings.mail_dir)
        chat_messages = fake.messages_text("chat-canary-e")
        # No staff view shows the officer's approval note: read it decrypted from its row.
        db.expire_all()
        desk.views += [
            (
                f"decision {d.id} approval_note_enc, decrypted",
                runtime.vault.decrypt_opt(d.approval_note_enc, field="decision.approval_note")
                or "",
                None,
            )
            for d in db.exec(select(Decision)).all()
        ]
    return Walk(
        runtime=runtime,
        settings=settings,
        root=root,
        refs=refs,
        views=desk.views,
        records=list(records),
        live_files=live_files,
        chat_messages=chat_messages,
        metrics=metrics,
    )
