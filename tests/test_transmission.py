"""Transmission (PIPA art. 35-2; Decree arts. 42-2 to 42-8) over HTTP: the gate on the policy's
`transmission_from`, the package with one JSON document per item for the subject, a holder
task for a named recipient, the refusal grounds of Decree art. 42-8(1) and the 3-year log."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlmodel import Session, select

from app.models.task import Task
from app.models.transmission import TransmissionLog
from app.runtime import Runtime
from app.services.audit.purge import purge
from app.services.notices.outbox import Outbox
from app.services.tasks.links import link_token
from app.settings import DEFAULT_POLICY_FILE, Settings
from tests.conftest import TEST_KEY, Clock, request_body
from tests.factories import (
    ACCESS_TERMS,
    RECORD_MATCH,
    assert_problem,
    csrf_token,
    delegate_body,
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
HOLDERS = ["aws", "uno_service_db"]
RECIPIENT = {
    "name": "가상마이데이터 주식회사",
    "code": "PIPC-2026-0001",
    "contact": "transfer@mydata.example",
}
SELF = {"to": "self"}
THIRD = {"to": "third_party", "recipient": RECIPIENT}


def _policy_with(tmp_path: Path, transmission_from: str) -> Path:
    """The shipped policy, with the controller a 정보전송자 from `transmission_from` and the
    type offered on the web form."""
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    marker = "policy_effective_date = 2024-09-13"
    assert marker in text
    text = text.replace(marker, f"{marker}\ntransmission_from = {transmission_from}", 1)
    text += '\n[[rights.request_types]]\ncode = "transmission"\nlabel = "전송"\n'
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def transmission_from() -> str | None:
    """The policy's first 정보전송자 day; None keeps the shipped policy (it has none)."""
    return None


@pytest.fixture
def settings_overrides(transmission_from: str | None, tmp_path: Path) -> dict[str, Any]:
    if transmission_from is None:
        return {}
    return {"policy_file": _policy_with(tmp_path, transmission_from)}


def _from(day: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("transmission_from", [day])


# Decree art. 42-2 applies from 2026-03-13, before the test clock (2026-12-15).
OFFERED = _from("2026-03-13")


class Transmission:
    """A 우노 customer's transmission request through the API, up to the record match."""

    def __init__(self, client: TestClient, staff_headers: Headers, **body: Any) -> None:
        self.client = client
        self.agent, self.handler = staff_headers("agent"), staff_headers("security")
        self.officer = staff_headers("officer")
        payload = request_body(type="transmission", **{"items": ITEMS, **body})
        created = file(client, payload)
        assert created.status_code == 201, created.text
        self.ref, self.code = created.json()["reference"], created.json()["access_code"]
        self.url = f"/v1/staff/requests/{self.ref}"
        self.write("identity", RECORD_MATCH)

    def etag(self) -> str:
        return str(self.client.get(self.url, headers=self.agent).headers["etag"])

    def post(self, path: str, body: dict[str, Any], who: dict[str, str] | None = None) -> Any:
        headers = {**(who or self.handler), "If-Match": self.etag()}
        return self.client.post(f"{self.url}/{path}", json=body, headers=headers)

    def write(self, path: str, body: dict[str, Any], who: dict[str, str] | None = None) -> Any:
        resp = self.post(path, body, who)
        assert resp.status_code < 300, resp.text
        return resp.json()

    def status(self) -> str:
        return str(self.client.get(self.url, headers=self.agent).json()["status"])

    def tasks(self) -> list[dict[str, Any]]:
        resp = self.client.get(f"{self.url}/tasks", headers=self.agent)
        assert resp.status_code == 200, resp.text
        return list(resp.json()["items"])


def _log(client: TestClient, officer: dict[str, str], **params: str) -> Any:
    query = {"from": "2026-12-01", "to": "2026-12-31", **params}
    return client.get("/v1/staff/audit/transmission-log", params=query, headers=officer)


# --- the gate (art. 35-2, Decree art. 42-2) -------------------------------


def test_the_shipped_policy_refuses_transmission_and_points_to_access(client: TestClient) -> None:
    resp = file(client, request_body(type="transmission", transmission=SELF))
    assert_problem(resp, 422, "transmission_not_offered", "type")
    assert "열람 요구로 신청해 주세요" in resp.json()["detail"]
    # The same thing filed as access is accepted.
    assert file(client, request_body()).status_code == 201


@_from("2027-02-20")
def test_a_transmission_from_after_the_receipt_date_is_not_offered_yet(client: TestClient) -> None:
    resp = file(client, request_body(type="transmission", transmission=SELF))
    assert_problem(resp, 422, "transmission_not_offered", "type")


@OFFERED
def test_the_body_names_where_the_data_goes(client: TestClient) -> None:
    missing = file(client, request_body(type="transmission"))
    assert_problem(missing, 422, "validation_error", "transmission")
    no_recipient = file(
        client, request_body(type="transmission", transmission={"to": "third_party"})
    )
    assert_problem(no_recipient, 422, "validation_error", "transmission.recipient")
    self_with_recipient = file(
        client, request_body(type="transmission", transmission={**SELF, "recipient": RECIPIENT})
    )
    assert_problem(self_with_recipient, 422, "validation_error", "transmission.recipient")
    on_access = file(client, request_body(transmission=SELF))
    assert_problem(on_access, 422, "transmission_not_applicable", "transmission")
    unknown = file(client, request_body(type="transmission", transmission={"to": "elsewhere"}))
    assert unknown.status_code == 422
    assert "self" in unknown.text and "third_party" in unknown.text


@OFFERED
def test_accepted_with_a_deadline_and_a_receipt_that_says_without_delay(
    client: TestClient, db: Session, runtime: Runtime
) -> None:
    resp = file(client, request_body(type="transmission", transmission=SELF))
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["type"] == "transmission"
    # Tue 2026-12-15 + 10 days (the cap on 지체 없이) = Fri 2026-12-25, 성탄절 → Mon 2026-12-28.
    assert created["legal_deadline"] == "2026-12-28"
    receipt = notice_text(db, runtime, "receipt")
    assert "개인정보 전송 요구" in receipt and "제42조의6제1항" in receipt


@OFFERED
def test_an_agent_needs_the_transmission_box_of_the_power_of_attorney(client: TestClient) -> None:
    access_only = delegate_body(scope=["access"])
    access_only.update(type="transmission", transmission=SELF)
    assert_problem(file(client, access_only), 422, "delegation_scope_mismatch", "delegation.scope")
    covered = delegate_body(scope=["transmission"])
    covered.update(type="transmission", transmission=SELF)
    assert file(client, covered).status_code == 201
    # The web form shows the 전송 box only for a transmission.
    form = client.get("/form?type=transmission&service=uno&relationship=delegate").text
    assert 'id="scope_transmission"' in form
    access_form = client.get("/form?type=access&service=uno&relationship=delegate").text
    assert 'id="scope_transmission"' not in access_form and 'id="scope_access"' in access_form


# --- to oneself: the access package with one JSON per item ---------------------------------------


@OFFERED
def test_to_oneself_the_package_holds_one_json_document_per_item(
    client: TestClient, db: Session, runtime: Runtime, staff_headers: Headers
) -> None:
    case = Transmission(client, staff_headers, transmission=SELF)
    case.write("decision", {"outcome": "granted", "items_granted": ITEMS})
    assert case.status() == "executing"
    tasks = case.tasks()
    assert sorted(t["holder_code"] for t in tasks) == HOLDERS
    assert {i["instruction"] for t in tasks for i in t["instructions"]} == {"extract"}
    task_row = db.get(Task, tasks[0]["id"])
    assert task_row is not None
    holder_page = client.get(
        "/tasks/confirm", params={"token": link_token(runtime, task_row, now=runtime.clock())}
    )
    assert "제35조의2제1항" in holder_page.text and "JSON" in holder_page.text
    upload = client.post(
        f"{case.url}/access-package/files",
        data={"holders": HOLDERS},
        files=[
            ("files", ("aws.json", b'{"ip": "192.0.2.10"}', "application/octet-stream")),
            ("files", ("db.csv", "항목,값\n생년월일,1990-05-01\n".encode(), "text/csv")),
        ],
        headers={**case.handler, "If-Match": case.etag()},
    )
    assert upload.status_code == 200, upload.text
    released = case.post("access-package/release", {})
    assert released.status_code == 200, released.text
    assert case.status() == "completed"

    got = client.get(
        f"/v1/requests/{case.ref}/access-package", headers={"X-Access-Code": case.code}
    )
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(got.content))
    names = archive.namelist()
    assert "열람내역서.html" in names
    docs = {n: json.loads(archive.read(n).decode("utf-8")) for n in names if n.startswith("items/")}
    assert sorted(docs) == ["items/birth_date.json", "items/terminal_info.json"]
    birth = docs["items/birth_date.json"]
    assert birth["item"]["code"] == "birth_date" and birth["item"]["name"] == "생년월일"
    assert birth["reference"] == case.ref and birth["service"] == "uno"
    assert sorted(birth["holders"]) == HOLDERS
    # Each document points at the extracts in the same ZIP that hold its content.
    assert birth["files"] and all(f in names for f in birth["files"])
    terminal = docs["items/terminal_info.json"]
    assert terminal["item"]["name"] == "단말기 정보"

    result = notice_text(db, runtime, "action_result")
    assert "개인정보 전송 요구에 대한 결과 안내" in result
    assert "JSON" in result and "내려받으실 수 있습니다" in result
    # The notice says what the per-item JSON holds (names and file paths, not the data).
    assert "개인정보의 내용은 이 추출 파일에 있습니다" in result
    assert "그 항목이 들어 있는 추출 파일의 이름만 적혀 있습니다" in result
    # Art. 35-2 and Decree art. 42-6, not the consent withdrawal's art. 37(3)(4).
    assert "제35조의2 및 같은 법 시행령 제42조의6에 따라 위와 같이 알려 드립니다" in result
    assert "제37조제3항" not in result

    logged = _log(client, case.officer, reference=case.ref).json()["items"]
    assert [(e["to"], e["items"], e["result"]) for e in logged] == [("self", ITEMS, "transmitted")]


@OFFERED
def test_a_transmission_takes_only_machine_readable_extracts(
    client: TestClient, db: Session, runtime: Runtime, staff_headers: Headers
) -> None:
    case = Transmission(client, staff_headers, transmission=SELF)
    case.write("decision", {"outcome": "granted", "items_granted": ITEMS})
    pdf = pdf_bytes()
    refused = client.post(
        f"{case.url}/access-package/files",
        data={"holders": HOLDERS},
        files=[
            ("files", ("aws.csv", "항목,값\n단말기,A\n".encode(), "text/csv")),
            ("files", ("db.pdf", pdf, "application/pdf")),
        ],
        headers={**case.handler, "If-Match": case.etag()},
    )
    assert_problem(refused, 422, "validation_error", "files.1")
    [error] = refused.json()["errors"]
    assert error["code"] == "not_machine_readable"
    assert error["allowed"] == ["csv", "json", "xlsx"] and error["value"] == "pdf"
    # Nothing was kept: both holders still owe their extract.
    assert {t["status"] for t in case.tasks()} == {"open"}

    # The holder's own page says so and refuses a PDF with the same rule.
    task_row = db.get(Task, case.tasks()[0]["id"])
    assert task_row is not None
    token = link_token(runtime, task_row, now=runtime.clock())
    page = client.get("/tasks/confirm", params={"token": token})
    assert (
        "추출 파일 (CSV, JSON, XLSX," in page.text
        and "PDF나 사진 파일은 받지 않습니다" in page.text
    )
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    sent = client.post(
        "/tasks/extract",
        data={"csrf_token": csrf.group(1), "token": token},
        files=[("files", ("extract.pdf", pdf, "application/pdf"))],
    )
    assert sent.status_code == 422 and "CSV, JSON, XLSX 파일만 받습니다" in sent.text
    assert {t["status"] for t in case.tasks()} == {"open"}

    # An access request still takes a PDF extract.
    created = file(client, request_body(type="access", items=ITEMS))
    url = f"/v1/staff/requests/{created.json()['reference']}"

    def post(path: str, **kwargs: Any) -> Any:
        etag = client.get(url, headers=case.agent).headers["etag"]
        return client.post(f"{url}/{path}", headers={**case.handler, "If-Match": etag}, **kwargs)

    assert post("identity", json=RECORD_MATCH).status_code == 200
    grant = {"outcome": "granted", "items_granted": ITEMS, "access": ACCESS_TERMS}
    assert post("decision", json=grant).status_code == 200
    ok = post(
        "access-package/files",
        data={"holders": ["aws"]},
        files=[("files", ("aws.pdf", pdf, "application/pdf"))],
    )
    assert ok.status_code == 200, ok.text


# --- to a third party: a holder task naming the recipient ----------------------------------------


@OFFERED
def test_to_a_third_party_each_holder_transmits_and_the_task_completes_with_evidence(
    client: TestClient, db: Session, runtime: Runtime, staff_headers: Headers
) -> None:
    case = Transmission(client, staff_headers, transmission=THIRD)
    detail = client.get(case.url, headers=case.agent)
    assert detail.status_code == 200
    assert detail.json()["transmission"] == {"to": "third_party", "recipient": RECIPIENT}
    case.write("decision", {"outcome": "granted", "items_granted": ITEMS})
    tasks = case.tasks()
    assert sorted(t["holder_code"] for t in tasks) == HOLDERS
    assert {i["instruction"] for t in tasks for i in t["instructions"]} == {"transmit"}

    # The instruction e-mail names the recipient institution.
    while Outbox(runtime).run_once():
        pass
    mails = [_decoded(p.read_bytes()) for p in runtime.settings.mail_dir.glob("*.eml")]
    instructions = [m for m in mails if "PIPC-2026-0001" in m]
    assert len(instructions) == len(HOLDERS), "each holder's instruction names the recipient"
    body = instructions[0]
    assert RECIPIENT["name"] in body and "제35조의2" in body

    # A statement that is not a transmission does not complete it.
    first = tasks[0]
    wrong = case.post(
        f"tasks/{first['id']}/complete",
        {"actions": [{"action": "deleted", "method": "irreversible_deletion"}]},
    )
    assert_problem(wrong, 422, "action_not_asked")
    # The first holder confirms on its signed page, which names the recipient too.
    task_row = db.get(Task, first["id"])
    assert task_row is not None
    token = link_token(runtime, task_row, now=runtime.clock())
    page = client.get("/tasks/confirm", params={"token": token})
    assert page.status_code == 200
    assert RECIPIENT["name"] in page.text and "지정된 기관으로 전송함" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    confirmed = client.post(
        "/tasks/confirm",
        data={
            "csrf_token": csrf.group(1),
            "token": token,
            "method_transmitted": "sent_to_recipient",
        },
    )
    assert confirmed.status_code == 200 and "조치 완료가 확인되었습니다" in confirmed.text
    assert case.status() == "executing"
    # The second by staff, with the same evidence.
    done = case.post(
        f"tasks/{tasks[1]['id']}/complete",
        {"actions": [{"action": "transmitted", "method": "sent_to_recipient"}]},
    )
    assert done.status_code == 200, done.text
    assert case.status() == "completed"
    result = notice_text(db, runtime, "action_result")
    assert f"{RECIPIENT['name']}(등록번호 {RECIPIENT['code']})에 전송했습니다" in result
    assert "제35조의2 및 같은 법 시행령 제42조의6에 따라 위와 같이 알려 드립니다" in result
    assert "제37조" not in result

    logged = _log(client, case.officer, reference=case.ref).json()["items"]
    assert sorted(e["holder"] for e in logged) == HOLDERS
    assert {(e["to"], e["recipient_name"], e["recipient_code"], e["result"]) for e in logged} == {
        ("third_party", RECIPIENT["name"], RECIPIENT["code"], "transmitted")
    }
    # No personal data of the subject in the log.
    assert "김가상" not in json.dumps(logged, ensure_ascii=False)


def _decoded(eml: bytes) -> str:
    message = email.message_from_bytes(eml, policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    return str(message["Subject"]) + "\n" + (body.get_content() if body is not None else "")


# --- refusal grounds (Decree art. 42-8(1)) --------------------------------------------------------


@OFFERED
def test_a_refusal_cites_a_ground_of_decree_42_8_and_is_logged(
    client: TestClient, db: Session, runtime: Runtime, staff_headers: Headers
) -> None:
    catalog = client.get("/v1/catalog").json()
    codes = json.dumps(catalog, ensure_ascii=False)
    assert "42-8-1-1" in codes

    case = Transmission(client, staff_headers, transmission=THIRD)
    other = case.post(
        "decision", {"outcome": "refused", "grounds": ["35-4-1"], "reason": "가상 사유"}
    )
    assert_problem(other, 422, "ground_not_applicable", "grounds")
    refused = case.post(
        "decision",
        {
            "outcome": "refused",
            "grounds": ["42-8-1-4"],
            "reason": "받는 기관이 전송을 받을 수 있는 기관으로 확인되지 않았습니다.",
        },
    )
    assert refused.status_code == 200, refused.text
    case.write("approval", {"approve": True}, who=case.officer)
    assert case.status() == "completed"
    result = notice_text(db, runtime, "action_result")
    assert "시행령 제42조의8제1항" in result and "제42조의8제1항제" not in result
    assert "개인정보관리 전문기관" in result
    # The refusal is notified under Decree art. 42-8(2), not art. 37(3)(4).
    assert "제35조의2 및 같은 법 시행령 제42조의8제2항에 따라 위와 같이 알려 드립니다" in result
    assert "제37조제3항" not in result
    logged = _log(client, case.officer, reference=case.ref).json()["items"]
    assert [(e["result"], e["items"]) for e in logged] == [("refused", ITEMS)]

    # A request naming no items asked for all of them: the log lists every item of the service.
    everything = Transmission(client, staff_headers, transmission=SELF, items=[])
    everything.write("decision", {"outcome": "refused", "grounds": ["42-8-1-1"], "reason": "x"})
    everything.write("approval", {"approve": True}, who=everything.officer)
    [entry] = _log(client, case.officer, reference=everything.ref).json()["items"]
    service = runtime.policy.service("uno")
    assert service is not None
    assert entry["items"] == sorted(i.code for i in service.items)


# --- the log: exported like the access log, kept 3 years ------------------------------------------


@OFFERED
def test_the_log_exports_as_csv_and_the_purge_keeps_three_years(
    client: TestClient, db: Session, runtime: Runtime, clock: Clock, staff_headers: Headers
) -> None:
    case = Transmission(client, staff_headers, transmission=THIRD)
    case.write("decision", {"outcome": "granted", "items_granted": ITEMS})
    for task in case.tasks():
        case.write(
            f"tasks/{task['id']}/complete",
            {"actions": [{"action": "transmitted", "method": "sent_to_recipient"}]},
        )
    exported = _log(client, case.officer, format="csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["cache-control"] == "no-store"
    rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["일시(KST)", "접수번호", "전송 대상", "받는 기관"]
    assert len(rows) == 3
    assert all(
        r[1] == case.ref and r[3] == RECIPIENT["name"] and r[7] == "전송함" for r in rows[1:]
    )
    assert _log(client, case.agent).status_code == 403

    # Three years less a day later both rows are still there; after three years they go.
    clock.advance(days=1095)
    purge(runtime)
    db.expire_all()
    assert len(db.exec(select(TransmissionLog)).all()) == 2
    clock.advance(days=2)
    assert purge(runtime)["transmission_logs"] == 2
    db.expire_all()
    assert db.exec(select(TransmissionLog)).all() == []


def test_the_log_cannot_be_kept_less_than_three_years(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        Settings(
            env="test",
            data_dir=tmp_path,
            data_key=TEST_KEY,
            database_url=f"sqlite:///{tmp_path}/x.db",
            transmission_log_retention_days=365,
        )


# --- the web form: the switch to access --------------------------------------------


@_from("2027-02-20")
def test_the_web_form_offers_to_file_the_same_as_access(client: TestClient, db: Session) -> None:
    token = csrf_token(client, "/form?type=transmission&service=uno&relationship=self")
    fields = form_fields(
        token, type="transmission", transmission_to="self", details="가상 요청 내용"
    )
    page = post_form(client, fields)
    assert page.status_code == 200
    assert "열람 요구로 신청해 주세요" in page.text
    assert 'name="switch_to_access"' in page.text
    # What was typed is still in the form the switch posts.
    assert 'value="김가상"' in page.text and "가상 요청 내용" in page.text
    assert filed(db) == []
    # The switch posts what was typed again, as an access request.
    switched = post_form(client, {**fields, "switch_to_access": "1"})
    assert switched.status_code == 200, switched.text
    [request] = filed(db)
    assert request.type == "access" and request.transmission_to is None
    assert request.reference in switched.text


@OFFERED
def test_the_web_form_files_a_transmission_to_a_named_institution(
    client: TestClient, db: Session, runtime: Runtime
) -> None:
    token = csrf_token(client, "/form?type=transmission&service=uno&relationship=self")
    fields = form_fields(token, type="transmission", transmission_to="third_party")
    missing = post_form(client, fields)
    assert missing.status_code == 200 and 'id="recipient_name-error"' in missing.text
    named = {
        "recipient_name": RECIPIENT["name"],
        "recipient_code": RECIPIENT["code"],
        "recipient_contact": RECIPIENT["contact"],
    }
    done = post_form(client, {**fields, **named})
    assert done.status_code == 200, done.text
    [request] = filed(db)
    assert request.type == "transmission" and request.transmission_to == "third_party"
    assert request.transmission_enc is not None and "PIPC" not in request.transmission_enc


@OFFERED
def test_the_catalog_says_since_when_transmission_is_offered(client: TestClient) -> None:
    catalog = client.get("/v1/catalog").json()
    assert catalog["controller"]["transmission_from"] == "2026-03-13"
    assert "transmission" in [t["code"] for t in catalog["request_types"]]
    grounds = [g for g in catalog["grounds"] if "transmission" in g["applies_to"]]
    assert [g["code"] for g in grounds] == [f"42-8-1-{n}" for n in range(1, 12)]
    assert not any(g["verbatim"] for g in grounds)  # our summaries of the Decree


def test_the_shipped_catalog_offers_no_transmission(client: TestClient) -> None:
    catalog = client.get("/v1/catalog").json()
    assert catalog["controller"]["transmission_from"] is None
    assert "transmission" not in [t["code"] for t in catalog["request_types"]]
