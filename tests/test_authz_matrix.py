"""The authorization matrix: every staff route x {no, revoked, expired, bad token; each role}.

The cases come from the app's own route table (`create_app(...)` walked with FastAPI's
`iter_route_contexts`), not from a hand-kept list of URLs. Every route must be classified:
either it is in MATRIX (who may call it, decided from ../shared/design/api.md and
docs/decisions.md "Roles"), or it is in PUBLIC_ROUTES (no staff token by contract). A route
added later without an entry fails here with "route X is not in the authorization matrix".

What each case asserts (the contract's error codes):
- no token, a revoked, expired or garbage token, or a valid token under another scheme:
  401 `unauthenticated`, before anything else (no 404/412/415/422/428 first);
- a role not allowed: 403 `forbidden`, again before anything else;
- an allowed role: neither 401 nor 403 (and no 5xx); whatever else the minimal request earns.

The requests are deliberately minimal (an empty JSON body, no If-Match, nonexistent task,
notice, attachment, candidate and token ids), so nothing changes state and one app and
database serve the whole module, once on SQLite and once on PostgreSQL (the token lookup,
with its revocation and expiry comparisons, is SQL that runs on both).
"""

from __future__ import annotations

import shutil
import string
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from app.db import transaction
from app.deps import CaseHandler, current_staff
from app.errors import install_error_handlers
from app.main import create_app
from app.models.staff import Role
from app.runtime import Runtime
from app.services.staff.accounts import add_staff, revoke_staff
from app.settings import Settings
from tests.conftest import TEST_KEY, Clock, request_body

PROBLEM = "application/problem+json"
ROLES = tuple(r.value for r in Role)  # agent, security, officer, admin

EVERYONE = frozenset(ROLES)
# Reading requests, personal data included, and the writes an agent may make: filing staff
# requests, assigning, internal notes, 보완 요청 (api.md "Roles, restated"; deps.CaseHandler,
# deps.TriageDep).
HANDLERS = frozenset({"agent", "security", "officer"})
# Every other write of handling: identity results, decisions, postponements, tasks, resends
# (api.md "Roles, restated": 403 `forbidden` for an agent; deps.HandlerDep).
HANDLING = frozenset({"security", "officer"})
# Approvals and waivers: the privacy officer (개인정보 보호책임자) only.
OFFICER = frozenset({"officer"})
# The register with the subjects' names and contacts (README "register", reports.py).
PERSONAL = frozenset({"security", "officer"})
# Staff accounts and tokens: admin only (decisions.md "Roles").
ADMIN = frozenset({"admin"})


@dataclass(frozen=True)
class Rule:
    method: str
    path: str
    allowed: frozenset[str]
    why: str
    query: str = ""  # a variant of the same route whose answer depends on the query

    @property
    def route(self) -> tuple[str, str]:
        return self.method, self.path

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}" + (f"?{self.query}" if self.query else "")


_R = "/v1/staff/requests/{reference}"
_T = _R + "/tasks/{task_id}"
_CSV = "/v1/staff/reports/register.csv"
_RANGE = "from=2026-12-01&to=2026-12-31"

# One line per route + method (and per query variant whose answer differs by role).
MATRIX: tuple[Rule, ...] = (
    Rule("GET", "/v1/staff/me", EVERYONE, "token check: any valid staff token, admin too"),
    Rule("POST", "/v1/staff/requests", HANDLERS, "filing a letter/fax/call is handling"),
    Rule("GET", "/v1/staff/requests", HANDLERS, "the queue; admin has no need-to-know"),
    Rule("GET", _R, HANDLERS, "the detail, personal data included"),
    Rule("PATCH", _R, HANDLERS, "assign, internal note"),
    Rule("GET", _R + "/notices", HANDLERS, "what was sent to the subject"),
    Rule("POST", _R + "/notices/{notice_id}/resend", HANDLING, "re-sending a notice of handling"),
    Rule("POST", _R + "/identity", HANDLING, "api.md: identity results, not an agent's"),
    Rule("POST", _R + "/info-requests", HANDLERS, "asking the requester for more"),
    Rule("GET", _R + "/attachments/{attachment_id}", HANDLERS, "ID copies, 위임장"),
    Rule("POST", _R + "/decision", HANDLING, "api.md: decisions, not an agent's"),
    Rule("POST", _R + "/approval", OFFICER, "api.md: 'approval — officer'"),
    Rule("POST", _R + "/postponement", HANDLING, "api.md: postponements, not an agent's"),
    Rule("POST", _R + "/postponement/end", HANDLING, "api.md: and their end"),
    Rule("POST", _R + "/objections", HANDLERS, "an objection received by e-mail: intake"),
    # Art. 37-2
    Rule("POST", _R + "/extension", HANDLING, "api.md: the 30-day extension, like postponement"),
    Rule("POST", _R + "/automated-decision", HANDLERS, "naming the decision asked about: triage"),
    Rule("GET", _R + "/tasks", HANDLERS, "carrying the decision out"),
    Rule("PATCH", _T, HANDLERS, "assigning a task (assignee, due date): an agent assigns"),
    Rule("POST", _T + "/complete", HANDLING, "api.md: task completion, not an agent's"),
    Rule("POST", _T + "/fail", HANDLING, "api.md: task failure, not an agent's"),
    Rule("POST", _T + "/reopen", HANDLING, "undoes a completion or failure: as complete"),
    Rule("POST", _T + "/waive", OFFICER, "a holder need not act: the officer decides"),
    Rule("POST", _T + "/evidence", HANDLING, "a processor's deletion report: completing"),
    Rule("GET", _R + "/certificate", HANDLERS, "names the subject"),
    Rule("GET", _R + "/access-package", HANDLERS, "the access package's manifest: file names"),
    Rule("POST", _R + "/access-package/files", HANDLING, "a holder's extract completes its task"),
    Rule("POST", _R + "/access-package/release", HANDLING, "api.md: release, not an agent's"),
    Rule("POST", _R + "/access/provided", HANDLING, "completes an in-person access"),
    Rule("GET", "/v1/staff/tasks", HANDLERS, "tasks of every request"),
    Rule("GET", "/v1/staff/members", EVERYONE, "people to assign to; admin fields admin's"),
    Rule("POST", "/v1/staff/search", HANDLERS, "search by subject: reads personal data"),
    Rule("POST", _R + "/duplicates/{other}/link", HANDLERS, "an agent's write: both go on"),
    Rule("POST", _R + "/duplicates/{other}/close", HANDLING, "closes a request: handling"),
    Rule("GET", "/v1/staff/sla/summary", HANDLERS, "counts of request data: not admin's"),
    Rule("GET", _CSV, HANDLERS, "the register, without names", _RANGE),
    Rule("GET", _CSV, PERSONAL, "with names and contacts", _RANGE + "&personal=true"),
    Rule("GET", "/v1/staff/integrations/channeltalk", HANDLERS, "intake channel status"),
    Rule("GET", "/v1/staff/channeltalk/candidates", HANDLERS, "chat messages of subjects"),
    Rule("POST", "/v1/staff/channeltalk/candidates/{candidate_id}/file", HANDLERS, "intake"),
    Rule("POST", "/v1/staff/channeltalk/candidates/{candidate_id}/dismiss", HANDLERS, "intake"),
    # Not in api.md or decisions.md yet (app/routers/audit.py, new): decided from the roles.
    Rule("GET", "/v1/staff/audit/verify", PERSONAL, "timeline integrity: security, officer"),
    Rule("GET", "/v1/staff/audit/access-log", OFFICER, "reviewing who read what: the officer"),
    # Decree art. 42-6(11): the transmission log, exported like the access log.
    Rule("GET", "/v1/staff/audit/transmission-log", OFFICER, "as the access log", _RANGE),
    Rule("GET", "/v1/staff/admin/tokens", ADMIN, "decisions.md: admin manages staff, tokens"),
    Rule("POST", "/v1/staff/admin/tokens/{token_id}/revoke", ADMIN, "as the token list"),
    # Processor mode (art. 26(8)): the clinics are business contacts, no personal data, kept
    # by the admin like the staff list; carrying a clinic's instruction out is handling.
    Rule("GET", "/v1/staff/admin/clinics", ADMIN, "clinics' business contacts: admin's list"),
    Rule("POST", "/v1/staff/admin/clinics", ADMIN, "as the clinic list"),
    Rule("POST", "/v1/staff/admin/clinics/{clinic_code}/deactivate", ADMIN, "as the list"),
    Rule(
        "POST",
        "/v1/staff/requests/{reference}/clinic-instruction/apply",
        HANDLING,
        "the clinic's instruction becomes the decision and its tasks: handling",
    ),
    # api.md lists `GET /metrics` under "Staff endpoints (Authorization: Bearer <token>)" and
    # names no role; the figures are counts only (no personal data), so any staff token.
    Rule("GET", "/metrics", EVERYONE, "api.md: a staff endpoint; counts only, any role"),
)

# Routes that take no staff token by contract (api.md "Public endpoints", the web form, the
# holders' confirmation link, the webhook with its own token, the API docs).
PUBLIC_ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/v1/requests"): "filing",
    ("GET", "/v1/requests/{reference}"): "X-Access-Code",
    ("POST", "/v1/requests/{reference}/verification"): "X-Access-Code",
    ("POST", "/v1/requests/{reference}/verification/resend"): "X-Access-Code",
    ("POST", "/v1/requests/{reference}/attachments"): "X-Access-Code",
    ("POST", "/v1/requests/{reference}/replies"): "X-Access-Code",
    ("POST", "/v1/requests/{reference}/objections"): "X-Access-Code",
    ("POST", "/v1/requests/{reference}/withdrawal"): "X-Access-Code",
    ("POST", "/v1/requests/{reference}/access-code/reissue"): "a contact it was filed with",
    ("GET", "/v1/deadlines"): "public facts",
    ("GET", "/v1/catalog"): "public facts",
    ("GET", "/healthz"): "liveness",
    ("POST", "/v1/integrations/channeltalk/webhook"): "its own ?token= (401 otherwise)",
    ("GET", "/tasks/confirm"): "a holder's signed link",
    ("POST", "/tasks/confirm"): "a holder's signed link",
    ("POST", "/tasks/extract"): "a holder's signed link",
    ("GET", "/clinics/confirm"): "a clinic's signed link",
    ("POST", "/clinics/confirm"): "a clinic's signed link",
    ("GET", "/v1/requests/{reference}/access-package"): "X-Access-Code",
    ("GET", "/"): "web form",
    ("GET", "/form"): "web form",
    ("POST", "/form"): "web form",
    ("GET", "/status"): "web form, access code",
    ("POST", "/status"): "web form, access code",
    ("POST", "/status/verify"): "web form, access code",
    ("POST", "/status/resend"): "web form, access code",
    ("POST", "/status/documents"): "web form, access code",
    ("POST", "/status/withdraw"): "web form, access code",
    ("POST", "/status/objection"): "web form, access code",
    ("POST", "/status/reply"): "web form, access code",
    ("GET", "/status/access-code"): "web form",
    ("POST", "/status/access-code"): "web form, a contact it was filed with",
    ("POST", "/status/access-package"): "web form, access code",
    ("GET", "/docs"): "API docs",
    ("GET", "/openapi.json"): "API docs",
    ("MOUNT", "/docs-assets"): "Swagger UI files",
    ("MOUNT", "/static"): "the web form's CSS",
    # The staff console's sign-in and enrolment pages come before any session.
    ("GET", "/staff/login"): "console sign-in (password)",
    ("POST", "/staff/login"): "console sign-in (password)",
    ("GET", "/staff/login/code"): "console sign-in (TOTP), after the password",
    ("POST", "/staff/login/code"): "console sign-in (TOTP), after the password",
    ("GET", "/staff/enrol"): "console enrolment, its one-time link",
    ("POST", "/staff/enrol"): "console enrolment, its one-time link",
}

# Path parameters: the one real request of the module, and ids that exist nowhere.
NONEXISTENT_ID = "999999"
# (Never a real token id: the admin's revoke would cut off the tokens the matrix uses.)
ID_PARAMS = {"task_id", "notice_id", "attachment_id", "candidate_id", "token_id", "clinic_code"}

# Everything that must be refused with 401 before the route looks at anything else.
UNAUTHENTICATED = ("no_token", "garbage_token", "revoked_token", "expired_token", "not_bearer")
CREDENTIALS = UNAUTHENTICATED + ROLES


# --- the route table ------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteInfo:
    method: str  # "MOUNT" for a mounted app
    path: str
    takes_staff_token: bool

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def _settings(tmp: Path, database_url: str) -> Settings:
    return Settings(
        env="test",
        data_dir=tmp / "var",
        database_url=database_url,
        data_key=TEST_KEY,
        embedded_worker=False,
        intake_rate_limit=1000,
        # Each console case opens the sign-in page for its CSRF token: more than a minute's
        # allowance of one address on a clock that stands still.
        public_rate_limit_per_minute=0,
    )


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _route_table() -> list[RouteInfo]:
    """Every route the app serves, however its routers are nested (FastAPI >= 0.137 keeps
    included routers as a tree, so `app.routes` alone no longer lists the endpoints)."""
    tmp = Path(tempfile.mkdtemp(prefix="authz-routes-"))
    try:
        app = create_app(_settings(tmp, f"sqlite:///{tmp / 'never-opened.db'}"))
        table = []
        for context in iter_route_contexts(app.routes):
            route, path = context.original_route, context.path
            if isinstance(route, APIRoute):
                staff = any(call is current_staff for call in _calls(context.dependant))
                for method in sorted(context.methods or ()):
                    table.append(RouteInfo(method, path, staff))
            elif context.methods:  # a plain Starlette route such as /openapi.json
                for method in sorted(context.methods - {"HEAD"}):
                    table.append(RouteInfo(method, path, False))
            else:
                table.append(RouteInfo("MOUNT", path, False))
        app.state.runtime.engine.dispose()
        return table
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


ROUTE_TABLE = _route_table()
RULES_BY_ROUTE: dict[tuple[str, str], list[Rule]] = {}
for _rule in MATRIX:
    RULES_BY_ROUTE.setdefault(_rule.route, []).append(_rule)


def _is_staff_route(info: RouteInfo) -> bool:
    return (
        info.path == "/v1/staff"
        or info.path.startswith("/v1/staff/")
        or info.takes_staff_token
        or info.key in RULES_BY_ROUTE
    )


def _probe_cases() -> list[Any]:
    """route-table staff route x its matrix line(s) x credentials; a route with no line in the
    matrix becomes one case that fails, named after the route."""
    cases = []
    for info in ROUTE_TABLE:
        if not _is_staff_route(info):
            continue
        rules = RULES_BY_ROUTE.get(info.key)
        if not rules:
            cases.append(pytest.param(info, None, "-", id=f"{info.label} | UNCLASSIFIED"))
            continue
        for rule in rules:
            for who in CREDENTIALS:
                cases.append(pytest.param(info, rule, who, id=f"{rule.label} | {who}"))
    return cases


# --- one app, one database, one real request for the whole module --------------------------


@dataclass
class Desk:
    client: TestClient
    reference: str
    headers: dict[str, dict[str, str]]


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def desk(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Desk]:
    tmp = tmp_path_factory.mktemp("authz")
    if request.param == "sqlite":
        db = tmp / "rightsdesk.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), db)
        database_url = f"sqlite:///{db}"
    else:
        database_url = request.getfixturevalue("postgres_database")()
    clock = Clock()
    app = create_app(_settings(tmp, database_url), clock=clock)
    engine = app.state.runtime.engine
    headers: dict[str, dict[str, str]] = {"no_token": {}}
    with transaction(engine) as session:
        for role in Role:
            made = add_staff(session, name=f"authz-{role.value}", role=role, now=clock())
            headers[role.value] = {"Authorization": f"Bearer {made.token}"}
        gone = add_staff(session, name="authz-revoked", role=Role.OFFICER, now=clock())
        # An officer token issued two days ago that lived one day.
        old = add_staff(
            session,
            name="authz-expired",
            role=Role.OFFICER,
            now=clock() - timedelta(days=2),
            token_ttl_days=1,
        )
    with transaction(engine) as session:
        assert revoke_staff(session, name="authz-revoked", now=clock()) == 1
    headers["revoked_token"] = {"Authorization": f"Bearer {gone.token}"}
    headers["expired_token"] = {"Authorization": f"Bearer {old.token}"}
    headers["garbage_token"] = {"Authorization": "Bearer rdk_this-token-was-never-issued"}
    # A valid officer token under another scheme is not a bearer token.
    headers["not_bearer"] = {
        "Authorization": headers["officer"]["Authorization"].replace("Bearer", "Basic", 1)
    }
    with TestClient(app) as client:
        filed = client.post("/v1/requests", json=request_body())
        assert filed.status_code == 201, filed.text
        yield Desk(client, filed.json()["reference"], headers)


def _url(desk: Desk, path: str, query: str = "") -> str:
    values: dict[str, str] = {}
    for _, name, _, _ in string.Formatter().parse(path):
        if name is None:
            continue
        if name == "reference":
            values[name] = desk.reference
        elif name == "other":  # the other request of a duplicate flag
            values[name] = "DSR-0000-NOTAREQ0"
        elif name in ID_PARAMS:
            values[name] = NONEXISTENT_ID
        else:
            pytest.fail(f"no value for path parameter {{{name}}} of {path}: add it to _url()")
    url = path.format(**values)
    return f"{url}?{query}" if query else url


def _send(desk: Desk, method: str, url: str, headers: dict[str, str]) -> Any:
    if method in {"POST", "PUT", "PATCH"}:
        # An empty JSON object and no If-Match: what would otherwise earn 422 or 428.
        return desk.client.request(method, url, json={}, headers=headers)
    return desk.client.request(method, url, headers=headers)


def _problem_code(resp: Any) -> str | None:
    if not resp.headers.get("content-type", "").startswith(PROBLEM):
        return None
    code = resp.json().get("code")
    return code if isinstance(code, str) else None


# --- the tests ------------------------------------------------------------------------------


def test_the_route_table_is_not_empty() -> None:
    """Guards the enumeration itself: a silently empty table would make every check vacuous."""
    labels = {info.label for info in ROUTE_TABLE}
    assert {"GET /v1/staff/me", "POST /v1/staff/requests/{reference}/approval"} <= labels
    assert all(info.takes_staff_token for info in ROUTE_TABLE if info.label == "GET /v1/staff/me")


@pytest.mark.parametrize("info", ROUTE_TABLE, ids=lambda info: info.label)
def test_every_route_is_classified(info: RouteInfo) -> None:
    in_matrix = info.key in RULES_BY_ROUTE or info.key in CONSOLE_RULES
    in_public = info.key in PUBLIC_ROUTES
    if not in_matrix and not in_public:
        pytest.fail(
            f"route {info.label} is not in the authorization matrix: decide who may call it "
            "(a line in MATRIX, or PUBLIC_ROUTES if it takes no staff token)"
        )
    assert not (in_matrix and in_public), f"{info.label} is both in MATRIX and PUBLIC_ROUTES"
    if in_public:
        assert not _is_staff_route(info), (
            f"{info.label} is listed as public but takes a staff token or lives under "
            "/v1/staff: move it to MATRIX"
        )


def test_no_matrix_line_names_a_route_that_does_not_exist() -> None:
    served = {info.key for info in ROUTE_TABLE}
    stale = [f"{m} {p}" for m, p in RULES_BY_ROUTE if (m, p) not in served]
    stale += [f"{m} {p}" for m, p in CONSOLE_RULES if (m, p) not in served]
    stale += [f"{m} {p}" for m, p in PUBLIC_ROUTES if (m, p) not in served]
    assert not stale, f"no such route (removed or renamed?): {stale}"


@pytest.mark.parametrize(("info", "rule", "who"), _probe_cases())
def test_authorization(desk: Desk, info: RouteInfo, rule: Rule | None, who: str) -> None:
    if rule is None:
        pytest.fail(
            f"route {info.label} is not in the authorization matrix: decide who may call it"
        )
    resp = _send(desk, rule.method, _url(desk, rule.path, rule.query), desk.headers[who])
    got = f"got {resp.status_code} {_problem_code(resp)!r}"
    if who in UNAUTHENTICATED:
        assert (resp.status_code, _problem_code(resp)) == (401, "unauthenticated"), (
            f"{rule.label} with {who}: expected 401 'unauthenticated', {got}: {resp.text[:300]}"
        )
    elif who in rule.allowed:
        assert resp.status_code not in (401, 403) and resp.status_code < 500, (
            f"{rule.label} as {who} ({rule.why}): expected to be let through, {got}: "
            f"{resp.text[:300]}"
        )
    else:
        assert (resp.status_code, _problem_code(resp)) == (403, "forbidden"), (
            f"{rule.label} as {who} (allowed: {sorted(rule.allowed)}): expected 403 "
            f"'forbidden', {got}: {resp.text[:300]}"
        )


# --- the staff console (/staff): browser sessions with a second factor, not bearer tokens --

# Who may open each console page (deps.console_capability: the same PERMISSIONS).
CONSOLE_MATRIX: tuple[Rule, ...] = (
    Rule("GET", "/staff", HANDLERS, "the queue, as GET /v1/staff/requests; admin has none"),
    Rule("POST", "/staff/logout", EVERYONE, "signing out: any signed-in staff member"),
    # The tasks board and the dashboard (app/routers/console_board.py).
    Rule("GET", "/staff/tasks", HANDLERS, "the task queue, as GET /v1/staff/tasks"),
    Rule("POST", "/staff/tasks/complete", HANDLING, "a task write, as the API's"),
    Rule("POST", "/staff/tasks/fail", HANDLING, "a task write, as the API's"),
    Rule("POST", "/staff/tasks/reopen", HANDLING, "a task write, as the API's"),
    Rule("POST", "/staff/tasks/waive", OFFICER, "waivers: the officer, as the API's"),
    Rule("GET", "/staff/dashboard", HANDLERS, "the SLA summary, as GET /v1/staff/sla/summary"),
    Rule("GET", "/staff/dashboard/register.csv", HANDLERS, "as GET " + _CSV),
    Rule("GET", "/staff/dashboard/access-log.csv", OFFICER, "as the API's access log"),
    # One request's page and its actions: the API's CaseHandler, TriageDep, HandlerDep and
    # OfficerDep, through the same PERMISSIONS.
    Rule("GET", "/staff/requests/{reference}", HANDLERS, "the request's page, as the detail"),
    Rule("GET", "/staff/requests/{reference}/documents/{attachment_id}", HANDLERS, "documents"),
    Rule("GET", "/staff/requests/{reference}/certificate", HANDLERS, "as the API's certificate"),
    Rule("POST", "/staff/requests/{reference}/assign", HANDLERS, "assigning: triage"),
    Rule("POST", "/staff/requests/{reference}/notes", HANDLERS, "internal notes: triage"),
    Rule("POST", "/staff/requests/{reference}/info-requests", HANDLERS, "보완 요청: triage"),
    Rule("POST", "/staff/requests/{reference}/identity", HANDLING, "identity results"),
    Rule("POST", "/staff/requests/{reference}/decision", HANDLING, "deciding: not an agent"),
    Rule("POST", "/staff/requests/{reference}/approval", OFFICER, "approval: the officer"),
    Rule("POST", "/staff/requests/{reference}/postponement", HANDLING, "postponing access"),
    Rule("POST", "/staff/requests/{reference}/postponement/end", HANDLING, "as postponing"),
    Rule("POST", "/staff/requests/{reference}/extension", HANDLING, "art. 37-2 extension"),
    Rule("POST", "/staff/requests/{reference}/automated-decision", HANDLERS, "naming: triage"),
    Rule("POST", "/staff/requests/{reference}/tasks/complete", HANDLING, "tasks: handling"),
    Rule("POST", "/staff/requests/{reference}/tasks/evidence", HANDLING, "task evidence"),
    Rule("POST", "/staff/requests/{reference}/tasks/fail", HANDLING, "tasks: handling"),
    Rule("POST", "/staff/requests/{reference}/tasks/reopen", HANDLING, "tasks: handling"),
    Rule("POST", "/staff/requests/{reference}/tasks/waive", OFFICER, "waivers: the officer"),
    Rule("POST", "/staff/requests/{reference}/access-package/files", HANDLING, "extracts"),
    Rule("POST", "/staff/requests/{reference}/access-package/release", HANDLING, "release"),
    Rule("POST", "/staff/requests/{reference}/access/provided", HANDLING, "access given"),
    Rule("POST", "/staff/requests/{reference}/notices/resend", HANDLING, "re-sending a notice"),
    # Search by subject, duplicates, bulk actions (app/routers/console_find.py).
    Rule("GET", "/staff/search", HANDLERS, "search by subject, as POST /v1/staff/search"),
    Rule("POST", "/staff/search", HANDLERS, "search by subject, as POST /v1/staff/search"),
    Rule("GET", "/staff/duplicates", HANDLERS, "duplicate flags: references, no personal data"),
    Rule("POST", "/staff/duplicates/{reference}/link", HANDLERS, "as the API's link"),
    Rule("POST", "/staff/duplicates/{reference}/close", HANDLING, "as the API's close"),
    Rule("POST", "/staff/bulk", HANDLERS, "assign, note, reminder; closing is handling"),
)
CONSOLE_RULES = {rule.route: rule for rule in CONSOLE_MATRIX}
# Refused like no session at all: the API's bearer token, a cookie this server did not sign,
# a session that was ended, and one only past the password (no second factor yet).
CONSOLE_UNAUTHENTICATED = ("no_session", "bearer_only", "forged", "ended", "password_only")


def _console_cookie(desk: Desk, who: str) -> str | None:
    from app.services.console import sessions
    from tests.console_helpers import session_cookie

    runtime: Runtime = desk.client.app.state.runtime  # type: ignore[attr-defined]
    if who in ROLES:
        return session_cookie(runtime, f"console-{who}", who)
    if who == "forged":
        return "not-a-session.AAAA"
    if who == "ended":
        value = session_cookie(runtime, "console-ended", "officer")
        with transaction(runtime.engine) as session:
            sessions.end(session, runtime, value)
        return value
    if who == "password_only":
        from sqlmodel import select

        from app.models.staff import Staff

        session_cookie(runtime, "console-half", "officer")
        with transaction(runtime.engine) as session:
            staff = session.exec(select(Staff).where(Staff.name == "console-half")).one()
            return sessions.start(session, runtime, staff, second_factor=False)
    return None


@pytest.mark.parametrize("who", CONSOLE_UNAUTHENTICATED + ROLES)
@pytest.mark.parametrize("rule", CONSOLE_MATRIX, ids=lambda rule: rule.label)
def test_console_authorization(desk: Desk, rule: Rule, who: str) -> None:
    """No signed-in session: 303 to the sign-in page (nothing done); a role not allowed: the
    403 page; an allowed role: the page, or the sign-out done."""
    from tests.console_helpers import csrf_of

    cookie = _console_cookie(desk, who)
    headers = desk.headers["officer"] if who == "bearer_only" else {}
    # HTTPS, as the console's cookies are Secure by default.
    with TestClient(desk.client.app, base_url="https://testserver") as browser:
        if cookie is not None:
            browser.cookies.set("rd_staff", cookie, path="/staff")
        form = {"csrf_token": csrf_of(browser.get("/staff/login").text)}
        resp = browser.request(
            rule.method,
            _url(desk, rule.path, rule.query),
            headers=headers,
            data=form if rule.method == "POST" else None,
            follow_redirects=False,
        )
    location = resp.headers.get("location", "")
    signed_out = location == "/staff/login?notice=signed_out"
    if who in CONSOLE_UNAUTHENTICATED:
        assert resp.status_code == 303 and location.startswith("/staff/login"), (
            f"{rule.label} with {who}: expected 303 to sign-in, got {resp.status_code} {location}"
        )
        assert not signed_out
    elif who in rule.allowed and rule.path.startswith("/staff/requests/"):
        # Let through: the page, or what a minimal request earns (a form without its version
        # gets the stale-form page, a nonexistent document 404, a certificate too early 409,
        # a file form posted without its files 415).
        assert resp.status_code in (200, 303, 404, 409, 415) and not location.startswith(
            "/staff/login"
        ), f"{rule.label} as {who}: expected to be let through, got {resp.status_code}"
    elif who in rule.allowed:
        # A form posted empty (or a download without its days) is let through to its checks:
        # the page again with the fields named (422), never the sign-in or the 403 page.
        assert resp.status_code in (200, 303, 422) and (resp.status_code != 303 or signed_out), (
            f"{rule.label} as {who}: expected to be let through, got {resp.status_code}"
        )
    else:
        assert resp.status_code == 403 and "권한이 없습니다" in resp.text, (
            f"{rule.label} as {who} (allowed: {sorted(rule.allowed)}): got {resp.status_code}"
        )


WRITES = [rule for rule in MATRIX if rule.method in {"POST", "PUT", "PATCH"}]


@pytest.mark.parametrize("who", ["no_token", "a_role_not_allowed"])
@pytest.mark.parametrize("rule", WRITES, ids=lambda rule: rule.label)
def test_a_body_of_the_wrong_media_type_does_not_answer_before_authorization(
    desk: Desk, rule: Rule, who: str
) -> None:
    """401/403 come first even when the body is not JSON at all (no 415 or 422 leaks)."""
    if who == "no_token":
        expected = (401, "unauthenticated")
    else:
        who = next((r for r in ROLES if r not in rule.allowed), "")
        if not who:
            pytest.skip(f"every role may call {rule.label}")
        expected = (403, "forbidden")
    headers = {**desk.headers[who], "Content-Type": "text/plain"}
    url = _url(desk, rule.path, rule.query)
    resp = desk.client.request(rule.method, url, content=b"not json", headers=headers)
    assert (resp.status_code, _problem_code(resp)) == expected, (
        f"{rule.label} as {who}: expected {expected}, got {resp.status_code} "
        f"{_problem_code(resp)!r}: {resp.text[:300]}"
    )


# --- the probe's attack, end to end ---------------------------------------------------------


def test_an_agent_cannot_verify_decide_and_complete_a_request(
    client: TestClient, staff_headers: Any
) -> None:
    """Issue 16: with an agent token, `identity` (verified) and `decision` (granted) completed
    a request and sent the result notice. Both are refused with real bodies and the right
    If-Match, and the request, its notices and its timeline stay as they were; the agent's
    own writes still go through (the matrix covers each: assign, note, 보완 요청, filing)."""
    agent, security = staff_headers("agent"), staff_headers("security")
    ref = client.post("/v1/requests", json=request_body(items=["manager_name"])).json()["reference"]
    url = f"/v1/staff/requests/{ref}"

    def snapshot() -> tuple[str, str, int]:
        """Status, version (every write moves it) and the notices written so far."""
        detail = client.get(url, headers=security)
        notices = client.get(f"{url}/notices", headers=security).json()["items"]
        return detail.json()["status"], detail.headers["etag"], len(notices)

    def write(path: str, body: dict[str, Any], who: dict[str, str]) -> Any:
        etag = client.get(url, headers=who).headers["etag"]
        return client.post(f"{url}/{path}", json=body, headers={**who, "If-Match": etag})

    before = snapshot()
    verified = {"result": "verified", "method": "account_record_match"}
    granted = {
        "outcome": "granted",
        "items_granted": ["manager_name"],
        "access": {"method": "electronic", "place": "요청 조회 화면", "fee_krw": 0},
    }
    for path, body in (("identity", verified), ("decision", granted)):
        resp = write(path, body, agent)
        assert (resp.status_code, _problem_code(resp)) == (403, "forbidden"), resp.text
    assert snapshot() == before, "an agent's refused write changed the request"

    # What an agent may do is unchanged.
    etag = client.get(url, headers=agent).headers["etag"]
    patched = client.patch(
        url, json={"note": "전화 문의 있음"}, headers={**agent, "If-Match": etag}
    )
    assert patched.status_code == 200, patched.text

    # And the same two writes by the security team grant it: the holders' extracts are
    # asked for, and the package's release (also refused to an agent) completes it.
    assert write("identity", verified, security).status_code == 200
    done = write("decision", granted, security)
    assert done.status_code == 200 and done.json()["status"] == "executing", done.text
    resp = write("access-package/release", {}, agent)
    assert (resp.status_code, _problem_code(resp)) == (403, "forbidden"), resp.text


def test_a_new_write_through_the_generic_case_dependency_is_closed_to_agents(
    runtime: Runtime, staff_headers: Any
) -> None:
    """deps.CaseHandler reads for agents, but a write route that uses it is handling: a
    route added later without a decision does not open a write to agents by default."""
    mini = FastAPI()
    mini.state.runtime = runtime
    install_error_handlers(mini)

    @mini.api_route("/probe", methods=["GET", "POST"])
    def probe(staff: CaseHandler) -> dict[str, str]:
        return {"role": staff.role}

    agent, security = staff_headers("agent"), staff_headers("security")
    with TestClient(mini) as client:
        assert client.get("/probe", headers=agent).status_code == 200
        refused = client.post("/probe", headers=agent)
        assert (refused.status_code, _problem_code(refused)) == (403, "forbidden")
        assert client.post("/probe", headers=security).status_code == 200
