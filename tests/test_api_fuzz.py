"""Property-based API test: schemathesis generates requests from /openapi.json and checks that
no response is a 5xx and every response is what the schema documents for that operation.

One app per module, on its own SQLite database made by the migrations, with a few requests
seeded (filed, with an attachment, executing with tasks, completed) so that generated path
parameters sometimes name a real object: the fuzzer then reaches the handlers, not only the
404 of an unknown reference. Staff operations are called with the token of an `officer` (the
one role every case-handling, approval and audit route admits; `security` would only see 403
on approvals, waivers and the access log), /v1/staff/admin/* with an `admin`'s.

Checks (the issue: "no 5xx and no response that breaks the schema"):
- not_a_server_error: no 5xx;
- status_code_conformance: the status is one the operation documents (the routes declare
  their problem responses with `problem_responses(...)`);
- content_type_conformance: the media type is one documented for that status;
- response_schema_conformance: the body validates against the documented schema;
- response_headers_conformance: documented response headers (none declared today).

What is fuzzed and what is not:
- Every operation in /openapi.json is fuzzed (one pytest item each), positive and negative
  data, the examples, coverage and fuzzing phases. Negative cases that drop the bearer
  "parameter" are sent without Authorization (the documented 401).
- POST /v1/requests/{reference}/attachments and POST .../tasks/{task_id}/evidence read their
  multipart body themselves and document no requestBody, so the fuzzer sends them no body:
  only that path (415) is exercised; tests/test_identity_api.py and tests/test_tasks.py cover
  the uploads. POST /v1/requests documents its multipart variant and is fuzzed with it.
- POST /v1/integrations/channeltalk/webhook documents no requestBody (Channel Talk's envelope
  is not in the schema) and needs the shared token: the fuzzer's own tokens must give 401;
  half of the cases carry the right token, so the accepting path (an empty body) is reached
  too. tests/test_channeltalk.py covers real envelopes.
- Not in the schema, so not fuzzed here: GET /metrics (Prometheus text; tests/test_metrics.py),
  /healthz, /docs and its assets, the HTML web form and /tasks/confirm (tests/test_web_*.py).
- Channel Talk candidates cannot be seeded without a processed chat event: their ids are only
  ever unknown (404) here.
- POST /v1/staff/admin/tokens/{token_id}/revoke never gets the officer's or the admin's own
  token id (the run would lose its credentials): a spare agent's token stands in for them.

Hypothesis runs derandomized without an example database, so CI sees the same cases every run.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import checks
from sqlmodel import Session, select

from app.db import transaction
from app.main import create_app
from app.models.request import Request as DbRequest
from app.models.staff import Role
from app.routers.integrations import WEBHOOK_PATH
from app.services.staff.accounts import add_staff
from app.settings import Settings
from tests.conftest import TEST_KEY, Clock, carry_out, request_body, subject
from tests.factories import pdf_bytes

pytestmark = pytest.mark.fuzz  # schemathesis and hypothesis

WEBHOOK_TOKEN = "fuzz-webhook-token"

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@dataclass
class Seeded:
    """The app under test and the real objects generated cases may point at."""

    app: FastAPI
    officer: dict[str, str]
    admin: dict[str, str]
    # Per set of path parameter names: real values that fit together.
    paths: dict[frozenset[str], list[dict[str, Any]]] = field(default_factory=dict)
    access_codes: dict[str, str] = field(default_factory=dict)
    # Path parameter values a generated case must not use, with the value used instead.
    protected: dict[str, tuple[set[Any], Any]] = field(default_factory=dict)

    def version(self, reference: str) -> int | None:
        with Session(self.app.state.runtime.engine) as session:
            return session.exec(
                select(DbRequest.version).where(DbRequest.reference == reference)
            ).first()


def _staff(app: FastAPI, clock: Clock, role: Role, name: str) -> dict[str, str]:
    """A staff member with a token (as `rightsdesk staff add` makes): its Authorization header."""
    with transaction(app.state.runtime.engine) as session:
        created = add_staff(session, name=name, role=role, now=clock())
    return {"Authorization": f"Bearer {created.token}"}


def _ok(resp: Any) -> Any:
    assert resp.status_code < 300, resp.text
    return resp.json()


def _seed(app: FastAPI, client: TestClient, clock: Clock) -> Seeded:
    """A received access request with an attachment, a deletion request executing with tasks,
    and a completed one (its certificate renders)."""
    security = _staff(app, clock, Role.SECURITY, "fuzz-security")  # decides; the officer approves
    officer = _staff(app, clock, Role.OFFICER, "fuzz-officer")
    admin = _staff(app, clock, Role.ADMIN, "fuzz-admin")
    _staff(app, clock, Role.AGENT, "fuzz-spare")
    seeded = Seeded(app=app, officer=officer, admin=admin)

    def file(**body: Any) -> str:
        created = _ok(client.post("/v1/requests", json=request_body(**body)))
        seeded.access_codes[created["reference"]] = created["access_code"]
        return str(created["reference"])

    def write(ref: str, path: str, body: dict[str, Any], who: dict[str, str]) -> None:
        url = f"/v1/staff/requests/{ref}"
        etag = client.get(url, headers=officer).headers["etag"]
        _ok(client.post(f"{url}/{path}", json=body, headers={**who, "If-Match": etag}))

    received = file()
    _ok(
        client.post(
            f"/v1/requests/{received}/attachments",
            data={"attachment_kinds": ["identity_document"]},
            files=[("attachments", ("id.pdf", pdf_bytes(), "application/pdf"))],
            headers={"X-Access-Code": seeded.access_codes[received]},
        )
    )
    detail = _ok(client.get(f"/v1/staff/requests/{received}", headers=officer))
    attachment_ids = [a["id"] for a in detail["attachments"]]

    executing, completed = (
        file(type="deletion", items=["admin_phone"], subject=subject(phone="010-1234-5678"))
        for _ in range(2)
    )
    for ref in (executing, completed):
        write(ref, "identity", {"result": "verified", "method": "account_record_match"}, security)
        write(ref, "decision", {"outcome": "granted"}, security)
        write(ref, "approval", {"approve": True}, officer)
    assert carry_out(client, completed, officer)["request_status"] == "completed"
    tasks = _ok(client.get(f"/v1/staff/requests/{executing}/tasks", headers=officer))["items"]

    refs = [received, executing, completed]
    notices = {
        ref: _ok(client.get(f"/v1/staff/requests/{ref}/notices", headers=officer))["items"]
        for ref in refs
    }
    token_ids = {
        t["staff"]: t["id"]
        for t in _ok(client.get("/v1/staff/admin/tokens", headers=admin))["items"]
    }
    spare = token_ids["fuzz-spare"]
    seeded.paths = {
        frozenset({"reference"}): [{"reference": r} for r in refs],
        frozenset({"reference", "task_id"}): [
            {"reference": executing, "task_id": t["id"]} for t in tasks
        ],
        frozenset({"reference", "notice_id"}): [
            {"reference": r, "notice_id": n["id"]} for r in refs for n in notices[r]
        ],
        frozenset({"reference", "attachment_id"}): [
            {"reference": received, "attachment_id": a} for a in attachment_ids
        ],
        frozenset({"token_id"}): [{"token_id": spare}],
    }
    seeded.protected = {"token_id": ({token_ids["fuzz-officer"], token_ids["fuzz-admin"]}, spare)}
    return seeded


def _settings(data_dir: Path, database_url: str) -> Settings:
    return Settings(
        env="test",
        data_dir=data_dir,
        database_url=database_url,
        data_key=TEST_KEY,
        embedded_worker=False,
        # The abuse limits have their own tests; here they would soon answer every public
        # call with 429 (wrong access codes would lock the seeded references for good, as the
        # clock does not move), and the fuzzer would no longer reach the handlers.
        intake_rate_limit=100_000,
        public_rate_limit_per_minute=0,
        access_code_max_failures=1_000_000,
        channeltalk_webhook_token=WEBHOOK_TOKEN,
        channeltalk_service="uno",
    )


def _openapi() -> dict[str, Any]:
    """The document the app serves at /openapi.json (it does not depend on the database, which
    this app never opens). Read at import: schemathesis makes one test per operation of it."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(_settings(Path(tmp), f"sqlite:///{tmp}/unused.db"))
        resp = TestClient(app).get("/openapi.json")
        assert resp.status_code == 200, resp.text
        return dict(resp.json())


# The lazy `schemathesis.pytest.from_fixture` loader fails on pytest 9.2 (it reads and sets
# `request.node._nodeid`, which pytest's nodes no longer have), so the schema is loaded eagerly
# and each case is sent to the seeded app with `app=`. (Also from pytest 9.2: the items'
# node ids no longer carry the operation, so `-ra` lists them all under one id; each failure's
# header still names its operation, e.g. `test_api_...[GET /v1/staff/tasks]`.)
schema = schemathesis.openapi.from_dict(_openapi())

# The seeded app of the running module (set by the `seeded` fixture, read by the hook below).
_current: list[Seeded] = []


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Seeded]:
    tmp = tmp_path_factory.mktemp("fuzz")
    db = tmp / "rightsdesk.db"
    shutil.copy(sqlite_template, db)  # a database made by `app.migrate.upgrade`
    clock = Clock()
    app = create_app(_settings(tmp / "var", f"sqlite:///{db}"), clock=clock)
    with TestClient(app) as client:
        _current.append(_seed(app, client, clock))
        yield _current[-1]
        _current.clear()


FILINGS = {("POST", "/v1/requests"), ("POST", "/v1/staff/requests")}
JSON = "application/json"


def _plausible_filing(case: schemathesis.Case) -> schemathesis.Case:
    if isinstance(case.body, dict):
        body = {**case.body, "service": "uno", "subject": subject()}
        body.pop("requester", None)
        body.pop("delegation", None)
        if "received_at" in body:
            body["received_at"] = "2026-12-14T10:00:00+09:00"  # the day before the clock's now
        case.body = body
    return case


@schema.hook
def flatmap_case(ctx: schemathesis.HookContext, case: schemathesis.Case) -> Any:
    """Half of the cases are pointed at a real object: its reference and ids, the access code
    of its requester and its current version as If-Match. The rest stay as generated (unknown
    references, wrong codes and versions)."""
    operation = ctx.operation
    if operation is None or not _current:
        return st.just(case)
    seeded = _current[-1]
    if operation.path == WEBHOOK_PATH:

        def with_token(real: bool) -> schemathesis.Case:
            if real:
                case.query["token"] = WEBHOOK_TOKEN
            return case

        return st.booleans().map(with_token)
    if (operation.method.upper(), operation.path) in FILINGS and case.media_type == JSON:
        # Names, phones and services have rules the schema cannot state (`_name`, `_phone`,
        # the policy's services): a generated filing nearly always fails them with 422. Half of
        # the cases keep the generated type, items, details, delivery, etc. around a plausible
        # subject, so filings are also accepted (and replayed with an Idempotency-Key).
        return st.booleans().map(lambda plausible: _plausible_filing(case) if plausible else case)
    names = frozenset(p.name for p in operation.path_parameters)
    real = seeded.paths.get(names, [])
    if not real:
        return st.just(case)
    header_names = {p.name.lower() for p in operation.headers}

    def pointed(index: int) -> schemathesis.Case:
        if index < 0:
            for name, (avoid, instead) in seeded.protected.items():
                if name in names and (case.path_parameters or {}).get(name) in avoid:
                    case.path_parameters = {**case.path_parameters, name: instead}
            return case
        params = real[index]
        case.path_parameters = {**(case.path_parameters or {}), **params}
        ref = params.get("reference")
        if ref is None:
            return case
        if "x-access-code" in header_names and ref in seeded.access_codes:
            case.headers["X-Access-Code"] = seeded.access_codes[ref]
        if "if-match" in header_names:
            case.headers["If-Match"] = f'"{seeded.version(ref)}"'
        return case

    return st.integers(-len(real), len(real) - 1).map(pointed)


# 50 generated cases per operation (besides the coverage phase's own): about 30 s of CPU for
# the module (at 25, no 5xx turned up). No shrink phase, so a failing operation costs no more
# than a passing one; the failure is reported with the case as found and a curl line for it.
@schema.parametrize()
@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    # Requests through the app and the database: slower than Hypothesis expects of a draw.
    suppress_health_check=[HealthCheck.too_slow],
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)
def test_api_gives_no_server_error_and_conforms_to_its_schema(
    case: schemathesis.Case, seeded: Seeded
) -> None:
    headers = None
    if case.path.startswith("/v1/staff/admin/"):
        headers = seeded.admin
    elif case.path.startswith("/v1/staff/"):
        headers = seeded.officer
    response = case.call_and_validate(app=seeded.app, headers=headers, checks=CHECKS)
    wrong_token = (case.query or {}).get("token") != WEBHOOK_TOKEN
    if case.operation.path == WEBHOOK_PATH and case.method.upper() == "POST" and wrong_token:
        # 401 is documented, but so is 200: only a wrong token's answer tells them apart.
        # (Schemathesis also tries methods the route does not have: those get 405.)
        assert response.status_code == 401, response.text
