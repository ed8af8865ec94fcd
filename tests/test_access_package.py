"""The access right delivered (PIPA art. 35, Decree art. 41): extracts from each holder, one
released ZIP with the 열람내역서, the requester's download, and access given in person."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlmodel import Session, select

from app.evidence.sniff import XLSX as XLSX_TYPE
from app.evidence.sniff import sniff_extract
from app.models.staff import AccessLog
from app.models.task import Task
from app.runtime import Runtime
from app.services.tasks.links import link_token
from app.workflows.access_package import ALL_SCOPES, build_statement
from tests.conftest import Clock, request_body
from tests.factories import (
    ELF,
    assert_problem,
    csrf_token,
    deliver_and_read_code,
    file,
    filed,
    form_fields,
    notice_text,
    pdf_bytes,
    post_form,
)

Headers = Callable[..., dict[str, str]]
# Two items of 우노, each kept by the service DB and by AWS (two holders, one task each).
ITEMS = ["birth_date", "terminal_info"]
HOLDERS = ["uno_service_db", "aws"]
CSV = "항목,값\n생년월일,1990-05-01\n".encode()
JSON = b'{"terminal_info": {"ip": "192.0.2.10", "user_agent": "synthetic"}}'


class Access:
    """A 우노 customer's access request through the API for two named items, up to the grant."""

    def __init__(
        self, client: Any, staff_headers: Headers, *, match: bool = True, **body: Any
    ) -> None:
        self.client = client
        self.agent, self.handler = staff_headers("agent"), staff_headers("security")
        created = file(client, request_body(**{"items": ITEMS, **body})).json()
        self.ref, self.code = created["reference"], created["access_code"]
        self.url = f"/v1/staff/requests/{self.ref}"
        if match:
            self.match()

    def match(self) -> None:
        # Decree art. 46(1): staff matched the subject against the service's records.
        self.write("identity", {"result": "verified", "method": "account_record_match"})

    def etag(self) -> str:
        return str(self.client.get(self.url, headers=self.agent).headers["etag"])

    def post(self, path: str, body: dict[str, Any], who: dict[str, str] | None = None) -> Any:
        headers = {**(who or self.handler), "If-Match": self.etag()}
        return self.client.post(f"{self.url}/{path}", json=body, headers=headers)

    def write(self, path: str, body: dict[str, Any]) -> Any:
        resp = self.post(path, body)
        assert resp.status_code < 300, resp.text
        return resp.json()

    def grant_body(self, items: list[str] = ITEMS, method: str = "electronic") -> dict[str, Any]:
        access: dict[str, Any] = {"method": method, "place": "요청 조회 화면"}
        if method == "in_person":
            access.update(available_at="2026-12-18T14:00:00+09:00", place="본사 3층 상담실")
        return {"outcome": "granted", "items_granted": items, "access": access}

    def grant(self, items: list[str] = ITEMS, method: str = "electronic") -> None:
        self.write("decision", self.grant_body(items, method))

    def status(self) -> str:
        return str(self.client.get(self.url, headers=self.agent).json()["status"])

    def manifest(self) -> dict[str, Any]:
        resp = self.client.get(f"{self.url}/access-package", headers=self.agent)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def upload(self, files: list[tuple[str, str, bytes]], who: dict[str, str] | None = None) -> Any:
        """files: (holder, filename, bytes), as staff send them for the holders."""
        headers = {**(who or self.handler), "If-Match": self.etag()}
        return self.client.post(
            f"{self.url}/access-package/files",
            data={"holders": [h for h, _, _ in files]},
            files=[("files", (n, b, "application/octet-stream")) for _, n, b in files],
            headers=headers,
        )

    def release(self, who: dict[str, str] | None = None) -> Any:
        return self.post("access-package/release", {}, who)

    def download(self, code: str | None = None) -> Any:
        return self.client.get(
            f"/v1/requests/{self.ref}/access-package",
            headers={"X-Access-Code": code or self.code},
        )


def _zip(content: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(content))


def _text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


# --- done when: the whole way, over real HTTP -----------------------------------------------------


def test_two_holders_upload_on_their_pages_and_the_subject_downloads_one_zip(
    live_server: str, runtime: Runtime, db: Session, staff_headers: Headers
) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as http:
        case = Access(http, staff_headers, match=False)
        # The subject proves control of the e-mail address with the one-time code.
        code = deliver_and_read_code(runtime)
        resp = http.post(
            f"/v1/requests/{case.ref}/verification",
            json={"code": code},
            headers={"X-Access-Code": case.code},
        )
        assert resp.status_code == 200, resp.text
        # A code proves control of the e-mail only: a grant waits for the record match.
        refused = case.post("decision", case.grant_body())
        assert refused.status_code == 409 and refused.json()["code"] == "identity_not_matched"
        # Staff match the subject against the service's records (Decree art. 46(1)).
        matched = case.post("identity", {"result": "verified", "method": "account_record_match"})
        assert matched.status_code < 300, matched.text
        case.grant()
        assert case.status() == "executing"
        assert case.manifest()["status"] == "assembling"

        tasks = db.exec(select(Task).where(Task.holder_code.in_(HOLDERS))).all()  # type: ignore[attr-defined]
        assert sorted(t.holder_code for t in tasks) == sorted(HOLDERS)
        for task, (name, content) in zip(
            sorted(tasks, key=lambda t: t.holder_code),
            [("aws-extract.json", JSON), ("db-extract.csv", CSV)],
            strict=True,
        ):
            token = link_token(runtime, task, now=runtime.clock())
            with httpx.Client(base_url=live_server, timeout=30) as holder:
                page = holder.get("/tasks/confirm", params={"token": token})
                assert page.status_code == 200 and "추출 파일" in page.text
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                assert csrf is not None
                done = holder.post(
                    "/tasks/extract",
                    data={"csrf_token": csrf.group(1), "token": token},
                    files={"files": (name, content, "application/octet-stream")},
                )
                assert done.status_code == 200, done.text
                assert "열람 자료를 받았습니다" in done.text
        # Every extract is in, yet the person has seen nothing: not completed.
        assert case.status() == "executing"
        assert case.download().status_code == 404

        released = case.release()
        assert released.status_code == 200, released.text
        assert case.status() == "completed"

        got = case.download()
        assert got.status_code == 200
        assert got.headers["content-type"] == "application/zip"
        assert got.headers["cache-control"] == "no-store"
        assert got.headers["content-disposition"].startswith("attachment;")
        disposition = got.headers["content-disposition"]
        assert f'filename="{case.ref}-access-package.zip"' in disposition
        assert "filename*=UTF-8''" in disposition and "%EC%97%B4%EB%9E%8C" in disposition
        archive = _zip(got.content)
        names = archive.namelist()
        assert "열람내역서.html" in names and "열람내역서.pdf" in names
        assert archive.read("aws/01-aws-extract.json") == JSON
        assert archive.read("uno_service_db/01-db-extract.csv") == CSV
        statement = _text(archive.read("열람내역서.html").decode())
        for words in ("생년월일", "단말기 정보", "수집·이용의 목적", "보유 및 이용 기간"):
            assert words in statement
        assert "서비스 회원 탈퇴 시까지" in statement  # the retention rule of both items
        pdf_text = "".join(
            p.extract_text() for p in PdfReader(io.BytesIO(archive.read("열람내역서.pdf"))).pages
        )
        assert "생년월일" in pdf_text and "보유 및 이용 기간" in pdf_text

        manifest = case.manifest()
        assert manifest["status"] == "released"
        assert {f["holder"] for f in manifest["files"]} == set(HOLDERS)
        assert len(manifest["downloads"]) == 1
    db.expire_all()
    logged = db.exec(select(AccessLog).where(AccessLog.action == "requester_download")).all()
    assert len(logged) == 1 and logged[0].staff_id is None


# --- the bad inputs -------------------------------------------------------------------------------


def test_release_without_a_file_is_package_empty(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Access(client, staff_headers)
    case.grant()
    assert_problem(case.release(), 409, "package_empty")
    assert case.status() == "executing"


def test_an_extract_that_is_not_an_accepted_type_is_415_and_nothing_is_kept(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Access(client, staff_headers)
    case.grant()
    assert_problem(
        case.upload([("aws", "tool.bin", ELF)]), 415, "unsupported_media_type", "files.0"
    )
    assert case.manifest()["files"] == []


def test_staff_upload_names_the_holder_and_completes_its_task(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Access(client, staff_headers)
    case.grant()
    assert_problem(
        case.upload([("woori_mobile", "x.pdf", pdf_bytes())]), 422, "unknown_holder", "holders.0"
    )
    resp = case.upload([("aws", "aws.pdf", pdf_bytes()), ("uno_service_db", "db.csv", CSV)])
    assert resp.status_code == 200, resp.text
    assert [f["holder"] for f in resp.json()["files"]] == ["uno_service_db", "aws"]
    tasks = client.get(f"{case.url}/tasks", headers=case.agent).json()["items"]
    assert {t["status"] for t in tasks} == {"done"}
    # The confirmation of an extract task without a file is refused.
    assert case.status() == "executing"


def test_an_extract_task_cannot_be_completed_without_its_file(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Access(client, staff_headers)
    case.grant()
    task = client.get(f"{case.url}/tasks", headers=case.agent).json()["items"][0]
    resp = case.post(
        f"tasks/{task['id']}/complete",
        {"actions": [{"action": "extracted", "method": "file_uploaded"}]},
    )
    assert_problem(resp, 422, "extract_required", "files")


def test_download_before_release_and_with_a_wrong_code_is_not_found(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Access(client, staff_headers)
    case.grant()
    case.upload([("aws", "a.pdf", pdf_bytes()), ("uno_service_db", "b.pdf", pdf_bytes())])
    assert_problem(case.download(), 404, "not_found")
    assert case.release().status_code == 200
    wrong = case.download(code="WRONG-CODE-0000")
    assert_problem(wrong, 404, "not_found")
    unknown = client.get(
        "/v1/requests/DSR-20261215-ZZZZ/access-package", headers={"X-Access-Code": case.code}
    )
    assert_problem(unknown, 404, "not_found")
    assert unknown.json() == wrong.json()  # a wrong code tells nothing about the reference
    assert case.download().status_code == 200


def test_agents_may_not_release(client: TestClient, staff_headers: Headers) -> None:
    case = Access(client, staff_headers)
    case.grant()
    case.upload([("aws", "a.pdf", pdf_bytes()), ("uno_service_db", "b.pdf", pdf_bytes())])
    assert_problem(case.release(who=case.agent), 403, "forbidden")
    assert case.status() == "executing"


def test_the_package_expires_after_access_package_days(
    client: TestClient, staff_headers: Headers, clock: Clock, runtime: Runtime
) -> None:
    case = Access(client, staff_headers)
    case.grant()
    case.upload([("aws", "a.pdf", pdf_bytes()), ("uno_service_db", "b.pdf", pdf_bytes())])
    assert case.release().status_code == 200
    clock.advance(days=runtime.settings.access_package_days - 1)
    assert case.download().status_code == 200
    clock.advance(days=1)
    assert_problem(case.download(), 410, "package_expired")
    assert case.manifest()["status"] == "expired"


# --- the PDF carries its font ---------------------------------------------------------------------


def test_the_statement_pdf_embeds_a_truetype_korean_font(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Access(client, staff_headers)
    case.grant()
    case.upload([("aws", "a.pdf", pdf_bytes()), ("uno_service_db", "b.pdf", pdf_bytes())])
    case.release()
    pdf = PdfReader(io.BytesIO(_zip(case.download().content).read("열람내역서.pdf")))
    embedded = []
    for page in pdf.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            target = descendants[0].get_object() if descendants else font
            descriptor = target.get("/FontDescriptor")
            if descriptor is not None:
                embedded.append("/FontFile2" in descriptor.get_object())
    assert embedded and all(embedded)


# --- in person: completed when staff record the visit ---------------------------------------------


def test_in_person_access_completes_when_staff_record_it(
    client: TestClient, staff_headers: Headers, clock: Clock, db: Session, runtime: Runtime
) -> None:
    case = Access(client, staff_headers, delivery="in_person")
    case.grant(method="in_person")
    # The visit's date, time and place are announced at the grant (Decree art. 41(5)).
    assert "본사 3층 상담실" in notice_text(db, runtime, "access_result")
    case.upload([("aws", "a.pdf", pdf_bytes()), ("uno_service_db", "b.pdf", pdf_bytes())])
    assert case.status() == "executing"
    clock.advance(days=3, hours=5)  # Fri 2026-12-18 15:00 KST, after the visit
    body = {"at": "2026-12-18T14:30:00+09:00", "note": "본인 방문, 사본 교부"}
    resp = case.post("access/provided", body)
    assert resp.status_code == 200, resp.text
    assert case.status() == "completed"


def test_electronic_access_is_not_completed_by_a_visit_record(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Access(client, staff_headers)
    case.grant()
    case.upload([("aws", "a.pdf", pdf_bytes()), ("uno_service_db", "b.pdf", pdf_bytes())])
    resp = case.post("access/provided", {"at": "2026-12-15T11:00:00+09:00"})
    assert_problem(resp, 409, "invalid_transition")


# --- the subject's choice shapes the 열람내역서 ------------------------------------------


def test_the_scope_chosen_at_filing_is_what_the_statement_answers(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Access(client, staff_headers, access_scope=["retention", "items"])
    assert client.get(case.url, headers=case.agent).json()["access_scope"] == ["items", "retention"]
    case.grant()
    case.upload([("aws", "a.pdf", pdf_bytes()), ("uno_service_db", "b.pdf", pdf_bytes())])
    case.release()
    statement = _text(_zip(case.download().content).read("열람내역서.html").decode())
    assert "보유 및 이용 기간" in statement and "서비스 회원 탈퇴 시까지" in statement
    assert "내용이 있는 파일" in statement
    for absent in ("수집·이용의 목적", "제3자 제공 현황", "처리에 동의한 사실"):
        assert absent not in statement


def test_an_unknown_scope_is_422_naming_the_allowed_values(client: TestClient) -> None:
    resp = file(client, request_body(access_scope=["items", "everything"]))
    assert_problem(resp, 422, "validation_error", "access_scope.1")
    assert "third_party" in resp.text
    resp = file(client, request_body(type="deletion", access_scope=["items"]))
    assert_problem(resp, 422, "access_scope_not_applicable", "access_scope")


# --- the web: the scope on the form, the download on the status page -----------------------------


def test_the_web_form_takes_the_scope_for_an_access_request(
    client: TestClient, db: Session
) -> None:
    page = client.get("/form?type=access&service=uno&relationship=self")
    for value in ("items", "purposes", "retention", "third_party", "consent"):
        assert f'name="access_scope" value="{value}" checked' in page.text
    token = csrf_token(client)
    fields: dict[str, Any] = form_fields(token)
    fields["access_scope"] = ["purposes", "consent"]
    resp = post_form(client, fields)
    assert resp.status_code == 200 and "요구서가 접수되었습니다" in resp.text
    [request] = filed(db)
    assert request.access_scope == ["consent", "purposes"]


def test_the_status_page_downloads_the_package_by_post(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Access(client, staff_headers)
    case.grant()
    case.upload([("aws", "a.pdf", pdf_bytes()), ("uno_service_db", "b.csv", CSV)])
    token = csrf_token(client, "/status")
    lookup = {"csrf_token": token, "reference": case.ref, "access_code": case.code}
    before = client.post("/status", data=lookup)
    assert "열람 자료 내려받기" not in before.text  # nothing before the release
    assert case.release().status_code == 200
    page = client.post("/status", data=lookup)
    assert 'action="/status/access-package"' in page.text
    got = client.post("/status/access-package", data=lookup)
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    assert "열람내역서.pdf" in _zip(got.content).namelist()
    assert case.manifest()["downloads"][0]["via"] == "web"
    # Without the CSRF token nothing is handed out; with a wrong code, the look-up again.
    assert (
        client.post("/status/access-package", data={**lookup, "csrf_token": "x"}).status_code == 403
    )
    wrong = client.post("/status/access-package", data={**lookup, "access_code": "WRONG-0000"})
    assert wrong.status_code == 404 and "application/zip" not in wrong.headers["content-type"]


# --- what an extract may be ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (pdf_bytes(), "application/pdf"),
        (b"PK\x03\x04" + bytes(26) + b"[Content_Types].xml", XLSX_TYPE),
        (b"PK\x03\x04" + bytes(26) + b"extract/data.csv", "application/zip"),
        ("이름,값\n".encode() * 60, "text/csv"),
        (b'\xef\xbb\xbf  [{"a": 1}]', "application/json"),
        # A multi-byte character cut at the end of the sniffed head is still text.
        (("가" * 87 + "나").encode()[:262], "text/csv"),
        (ELF, None),
        (b"\x00\x01binary", None),
        (b"", None),
    ],
)
def test_an_extract_is_told_by_its_bytes(head: bytes, expected: str | None) -> None:
    assert sniff_extract(head[:262]) == expected


def test_release_without_the_statement_font_stops_and_says_so(
    client: TestClient, staff_headers: Headers, runtime: Runtime, monkeypatch: Any
) -> None:
    monkeypatch.setattr(runtime.settings, "access_statement_font", Path("/nonexistent/x.ttf"))
    case = Access(client, staff_headers)
    case.grant()
    case.upload([("aws", "a.pdf", pdf_bytes()), ("uno_service_db", "b.pdf", pdf_bytes())])
    assert_problem(case.release(), 503, "statement_font_missing")
    assert case.status() == "executing" and case.manifest()["status"] == "assembling"


def test_an_extract_over_the_size_limit_is_413_while_it_streams(
    client: TestClient, staff_headers: Headers, runtime: Runtime, monkeypatch: Any
) -> None:
    monkeypatch.setattr(runtime.settings, "access_extract_max_bytes", 2048)
    case = Access(client, staff_headers)
    case.grant()
    resp = case.upload([("aws", "big.csv", CSV * 200)])
    assert_problem(resp, 413, "payload_too_large", "files.0")
    assert case.manifest()["files"] == []


def test_a_partial_grant_lists_the_withheld_items_with_their_ground(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Access(client, staff_headers, items=["birth_date", "access_records"])
    decision = {
        "outcome": "partially_granted",
        "grounds": ["35-4-2"],
        "reason": "접속기록에 다른 직원의 기록이 함께 있어 제외합니다.",
        "items_granted": ["birth_date"],
        "items_withheld": ["access_records"],
        "access": {"method": "electronic", "place": "요청 조회 화면"},
    }
    case.write("decision", decision)
    resp = case.post("approval", {"approve": True}, who=staff_headers("officer"))
    assert resp.status_code == 200, resp.text
    case.upload([("aws", "a.pdf", pdf_bytes()), ("uno_service_db", "b.pdf", pdf_bytes())])
    assert case.release().status_code == 200
    statement = _text(_zip(case.download().content).read("열람내역서.html").decode())
    assert "열람을 제한한 개인정보" in statement
    assert "접속기록" in statement and "제35조제4항제2호" in statement


def test_the_consent_facts_follow_each_items_legal_basis(runtime: Runtime) -> None:
    """Decree art. 41(1)5: only a consent-based item says it was agreed to and can be
    withdrawn; a contract or statute item says it is processed without consent, and on what."""
    statement = build_statement(
        runtime.policy,
        service_code="uno",
        reference="DSR-2612-TEST0001",
        scope=ALL_SCOPES,
        granted=["birth_date", "manager_name", "contract_payment_records"],
        withheld=[],
        files_by_holder={},
        holder_names={},
    )
    consent = {i.code: i.consent for i in statement.items}
    assert "동의하신 경우에만" in consent["birth_date"] and "철회" in consent["birth_date"]
    assert "제15조제1항제1호" in consent["birth_date"]
    assert consent["manager_name"].startswith("동의가 아니라 서비스 이용계약")
    assert "제15조제1항제4호" in consent["manager_name"]
    assert consent["contract_payment_records"].startswith("동의가 아니라 법령에 따른")
    assert "전자상거래" in consent["contract_payment_records"]
