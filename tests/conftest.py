"""Test fixtures: the app built by its factory on a fresh database made by the migrations."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.db import transaction
from app.main import create_app
from app.migrate import upgrade
from app.models.staff import Role
from app.runtime import Runtime
from app.services.staff.accounts import add_staff
from app.settings import Settings

# A fixed key for tests only (32 zero-to-31 bytes); never a real deployment's key.
TEST_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

# Tuesday 2026-12-15 10:00 KST: the contract's worked example (due Mon 2026-12-28).
T0 = datetime(2026, 12, 15, 1, 0, tzinfo=UTC)


class Clock:
    """The injected `now`: tests move time instead of sleeping."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database upgraded by Alembic per session; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[Callable[[], str]]:
    """Returns a callable: each call gives the URL of a new PostgreSQL database at the head.

    The server is one this session starts (tests/pg.py), or RIGHTSDESK_TEST_POSTGRES_URL's.
    """
    from tests.pg import postgres_databases

    with postgres_databases(upgrade) as fresh_db:
        yield fresh_db


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        db = tmp_path / "rightsdesk.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), db)
        return f"sqlite:///{db}"
    fresh_db: Callable[[], str] = request.getfixturevalue("postgres_database")
    return fresh_db()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for its tests."""
    return {}


@pytest.fixture
def settings(tmp_path: Path, database_url: str, settings_overrides: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "data_dir": tmp_path / "var",
        "database_url": database_url,
        "data_key": TEST_KEY,
        # Tests drive the outbox themselves (Outbox.run_once) with the injected clock.
        "embedded_worker": False,
        # Many filings come from one test client; the limits have their own tests.
        "intake_rate_limit": 1000,
        "public_rate_limit_per_minute": 0,
    }
    values.update(settings_overrides)
    return Settings(**values)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(settings: Settings, clock: Clock) -> FastAPI:
    return create_app(settings, clock=clock)


@pytest.fixture
def runtime(app: FastAPI) -> Runtime:
    rt: Runtime = app.state.runtime
    return rt


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # A peer with a real IP address: the default "testclient" is not one, and only valid
    # addresses are recorded (app/proxies.py).
    with TestClient(app, client=("127.0.0.1", 50000)) as c:
        yield c


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    """The app served by a real uvicorn on a free loopback port, for real HTTP clients."""
    from tests.servers import uvicorn_in_thread

    with uvicorn_in_thread(app) as url:
        yield url


@pytest.fixture
def db(runtime: Runtime) -> Iterator[Session]:
    """A session for looking at what the service stored."""
    with Session(runtime.engine) as session:
        yield session


@pytest.fixture
def staff_headers(runtime: Runtime, clock: Clock) -> Callable[..., dict[str, str]]:
    """Make a staff member with a role; returns the Authorization header for their token."""
    counter = iter(range(1, 1000))

    def make(role: str = "security", name: str | None = None) -> dict[str, str]:
        with transaction(runtime.engine) as session:
            created = add_staff(
                session, name=name or f"{role}-{next(counter)}", role=Role(role), now=clock()
            )
        return {"Authorization": f"Bearer {created.token}"}

    return make


def mailed_code(eml: Path) -> str:
    """The one-time code of a notice written to the development mail drop: the .eml masks
    it, the private .code file beside it holds it (outside production)."""
    code = eml.with_suffix(".code").read_text(encoding="utf-8").split()
    assert len(code) == 1, eml.name
    return code[0]


def subject(**overrides: Any) -> dict[str, Any]:
    """A synthetic adult data subject (no real person)."""
    person = {"name": "김가상", "birth_date": "1990-05-01", "email": "kim.gasang@example.com"}
    person.update(overrides)
    return person


def request_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "access", "service": "uno", "subject": subject()}
    body.update(overrides)
    return body


def delegation_for(
    subj: dict[str, Any], delegate: dict[str, Any], **overrides: Any
) -> dict[str, Any]:
    d: dict[str, Any] = {
        "delegator_name": subj["name"],
        "delegator_birth_date": subj["birth_date"],
        "delegator_phone": "010-2000-0001",
        "delegator_address": "서울특별시 가상구 예시로 1",
        "delegate_name": delegate["name"],
        "delegate_birth_date": delegate["birth_date"],
        "delegate_phone": "010-2000-0002",
        "delegate_address": "서울특별시 가상구 예시로 2",
        "relationship_to_subject": "배우자",
        "scope": ["access", "correction_deletion"],
        "signed_on": "2026-12-10",
    }
    d.update(overrides)
    return d


# What each instruction of a task is answered with when a test carries a decision out.
_CARRY_OUT = {
    "delete": ("deleted", "irreversible_deletion"),
    "separate": ("separated", "separate_storage"),
    "correct": ("corrected", "record_updated"),
    "suspend": ("suspended", "processing_blocked"),
    # Decree art. 43(2): the source of received items answered (e-mail, letter or phone).
    "notify_source": ("source_informed", "source_replied"),
}


def carry_out(client: TestClient, reference: str, headers: dict[str, str]) -> dict[str, Any]:
    """Complete every open task of an executing request, as each holder would; returns the
    last task page (its `request_status` is then `completed`)."""
    url = f"/v1/staff/requests/{reference}/tasks"
    listed = client.get(url, headers=headers)
    page: dict[str, Any] = listed.json()
    etag = listed.headers["etag"]  # a task write names the request's version (If-Match)
    for task in page["items"]:
        if task["status"] != "open":
            continue
        kinds = sorted({i["instruction"] for i in task["instructions"]})
        actions = [{"action": _CARRY_OUT[k][0], "method": _CARRY_OUT[k][1]} for k in kinds]
        resp = client.post(
            f"{url}/{task['id']}/complete",
            json={"actions": actions},
            headers={**headers, "If-Match": etag},
        )
        assert resp.status_code == 200, resp.text
        page, etag = resp.json(), resp.headers["etag"]
    return page
