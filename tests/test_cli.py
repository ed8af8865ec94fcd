"""The `rightsdesk` command as an operator runs it: migrate, staff add, enrol, revoke."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.conftest import TEST_KEY, request_body
from tests.factories import rightsdesk

pytestmark = pytest.mark.slow  # every test runs the command in a subprocess


def test_operator_sets_up_staff_from_the_command_line(tmp_path: Path) -> None:
    env = {
        "RIGHTSDESK_ENV": "test",
        "RIGHTSDESK_DATA_DIR": str(tmp_path),
        "RIGHTSDESK_DATA_KEY": TEST_KEY,
    }
    assert rightsdesk(env, "migrate").returncode == 0
    added = rightsdesk(
        env, "staff", "add", "--name", "정보보안 담당", "--role", "security", "--json"
    )
    assert added.returncode == 0, added.stderr
    line = json.loads(added.stdout.strip())
    assert set(line) == {"staff_id", "token", "enrolment_url", "enrolment_expires_at"}
    # The console enrolment link (relative without PUBLIC_BASE_URL); a new one replaces it.
    assert line["enrolment_url"].startswith("/staff/enrol?token=")
    again = rightsdesk(env, "staff", "enrol", "--name", "정보보안 담당", "--json")
    assert again.returncode == 0, again.stderr
    new_url = json.loads(again.stdout.strip())["enrolment_url"]

    settings = Settings(env="test", data_dir=tmp_path, data_key=TEST_KEY)
    headers = {"Authorization": f"Bearer {line['token']}"}
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/staff/me", headers=headers).json()["role"] == "security"
        assert client.get(line["enrolment_url"]).status_code == 404
        enrol_page = client.get(new_url)
        assert enrol_page.status_code == 200 and "정보보안 담당" in enrol_page.text

    dup = rightsdesk(env, "staff", "add", "--name", "정보보안 담당", "--role", "agent")
    assert dup.returncode != 0 and "already exists" in dup.stderr
    bad_role = rightsdesk(env, "staff", "add", "--name", "x", "--role", "boss")
    assert bad_role.returncode == 2

    revoked = rightsdesk(env, "staff", "revoke", "--name", "정보보안 담당")
    assert revoked.returncode == 0 and "1 token(s) revoked" in revoked.stdout
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/staff/me", headers=headers).status_code == 401
    assert rightsdesk(env, "staff", "revoke", "--name", "nobody").returncode == 1


def test_production_without_a_key_refuses_to_start(tmp_path: Path) -> None:
    env = {"RIGHTSDESK_ENV": "production", "RIGHTSDESK_DATA_DIR": str(tmp_path)}
    env_clean = {k: v for k, v in os.environ.items() if k != "RIGHTSDESK_DATA_KEY"}
    result = subprocess.run(
        [sys.executable, "-c", "from app.main import create_app; create_app()"],
        env={**env_clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0 and "RIGHTSDESK_DATA_KEY is required" in result.stderr


def test_worker_once_delivers_what_the_web_process_queued(tmp_path: Path) -> None:
    env = {
        "RIGHTSDESK_ENV": "test",
        "RIGHTSDESK_DATA_DIR": str(tmp_path),
        "RIGHTSDESK_DATA_KEY": TEST_KEY,
        "RIGHTSDESK_EMBEDDED_WORKER": "false",
    }
    assert rightsdesk(env, "migrate").returncode == 0
    settings = Settings(env="test", data_dir=tmp_path, data_key=TEST_KEY, embedded_worker=False)
    with TestClient(create_app(settings)) as client:
        ref = client.post("/v1/requests", json=request_body()).json()["reference"]
    assert list((tmp_path / "mail").glob("*.eml")) == []
    result = rightsdesk(env, "worker", "--once")
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "mail").glob("*.eml"))
    assert [n.split("-")[3] for n in names] == ["receipt", "verification_code"]
    assert all(n.startswith(ref) for n in names)
    assert "kim.gasang" not in result.stderr  # the worker's log names no one


def test_worker_stops_on_sigterm_after_the_notice_in_hand(tmp_path: Path) -> None:
    """A deploy stops `rightsdesk worker` in the middle of a backlog: it finishes the notice it
    is sending and exits; the rest stay queued, none half-sent."""
    import signal
    import time

    from sqlmodel import Session, select

    from app.models.notice import Notice, NoticeAttempt

    env = {
        "RIGHTSDESK_ENV": "test",
        "RIGHTSDESK_DATA_DIR": str(tmp_path),
        "RIGHTSDESK_DATA_KEY": TEST_KEY,
        "RIGHTSDESK_EMBEDDED_WORKER": "false",
        "RIGHTSDESK_INTAKE_RATE_LIMIT": "0",
        "RIGHTSDESK_WORKER_BATCH_SIZE": "500",
    }
    assert rightsdesk(env, "migrate").returncode == 0
    settings = Settings(
        env="test",
        data_dir=tmp_path,
        data_key=TEST_KEY,
        embedded_worker=False,
        intake_rate_limit=0,
        public_rate_limit_per_minute=0,
    )
    app = create_app(settings)
    with TestClient(app) as client:
        for _ in range(150):
            assert client.post("/v1/requests", json=request_body()).status_code == 201
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        env={**os.environ, **env},
        stderr=subprocess.PIPE,
        text=True,
    )
    mail = tmp_path / "mail"
    deadline = time.monotonic() + 60
    while not (mail.exists() and any(mail.glob("*.eml"))) and time.monotonic() < deadline:
        time.sleep(0.01)
    # Background work: it runs at a lower CPU priority than the web (WORKER_NICE, 10).
    assert os.getpriority(os.PRIO_PROCESS, worker.pid) == os.getpriority(os.PRIO_PROCESS, 0) + 10
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, worker.stderr.read() if worker.stderr else ""
    with Session(app.state.runtime.engine) as db:
        statuses = [n.status for n in db.exec(select(Notice))]
        attempts = db.exec(select(NoticeAttempt)).all()
    assert 0 < statuses.count("delivered") < len(statuses) == 300
    assert all(a.outcome == "delivered" for a in attempts)  # none left half-sent
    assert len(list(mail.glob("*.eml"))) == statuses.count("delivered")


def test_demo_loads_synthetic_requests_once_and_only_in_development(tmp_path: Path) -> None:
    env = {
        "RIGHTSDESK_ENV": "development",
        "RIGHTSDESK_DATA_DIR": str(tmp_path),
        "RIGHTSDESK_DATA_KEY": TEST_KEY,
    }
    assert rightsdesk(env, "migrate").returncode == 0
    loaded = rightsdesk(env, "demo")
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stderr == ""  # no log lines around the result
    lines = [line for line in loaded.stdout.splitlines() if line.startswith("DSR-")]
    assert len(lines) == 12
    statuses = {line.split()[-1] for line in lines}
    assert {"identity_pending", "in_review", "executing", "completed"} <= statuses
    codes = {line.split()[0]: line.split()[1] for line in lines}
    assert "/status" in loaded.stdout
    token = rightsdesk(env, "staff", "token", "--name", "데모 담당자", "--json")
    assert token.returncode == 0, token.stderr
    settings = Settings(env="development", data_dir=tmp_path, data_key=TEST_KEY)
    headers = {"Authorization": f"Bearer {json.loads(token.stdout)['token']}"}
    with TestClient(create_app(settings)) as client:
        queue = client.get("/v1/staff/requests?limit=50", headers=headers).json()
        overdue = client.get("/v1/staff/requests?sla=overdue", headers=headers).json()
        # Each printed access code opens its request, as the requester would on /status.
        reference, code = next(iter(codes.items()))
        mine = client.get(f"/v1/requests/{reference}", headers={"X-Access-Code": code})
        assert mine.status_code == 200, mine.text
    assert len(queue["items"]) == 12
    assert len(overdue["items"]) == 1  # received 20 days ago, still in review

    again = rightsdesk(env, "demo")
    assert again.returncode == 0, again.stderr
    assert "already there" in again.stdout
    assert sorted(
        line.split()[0] for line in again.stdout.splitlines() if line.startswith("DSR-")
    ) == sorted(codes)
    with TestClient(create_app(settings)) as client:
        assert len(client.get("/v1/staff/requests?limit=50", headers=headers).json()["items"]) == 12

    for other in ("test", "production"):
        refused = rightsdesk(env | {"RIGHTSDESK_ENV": other}, "demo")
        assert refused.returncode == 1 and refused.stdout == ""
        assert "only when RIGHTSDESK_ENV is development" in refused.stderr


def test_one_shot_commands_print_their_result_alone_unless_verbose(tmp_path: Path) -> None:
    env = {
        "RIGHTSDESK_ENV": "test",
        "RIGHTSDESK_DATA_DIR": str(tmp_path),
        "RIGHTSDESK_DATA_KEY": TEST_KEY,
        "RIGHTSDESK_LOG_LEVEL": "info",
    }
    first = rightsdesk(env, "migrate")
    assert first.returncode == 0, first.stderr
    assert first.stderr == "" and len(first.stdout.splitlines()) == 1
    assert first.stdout.startswith("database migrated from empty to ")
    again = rightsdesk(env, "migrate")
    assert again.stdout.startswith("database already at the latest revision")
    assert again.stderr == ""
    sweep = rightsdesk(env, "sla", "sweep")
    assert sweep.returncode == 0 and sweep.stderr == ""
    assert set(json.loads(sweep.stdout)) >= {"due_soon", "overdue"}
    for argv in (("--verbose", "sla", "sweep"), ("sla", "sweep", "--verbose")):
        verbose = rightsdesk(env, *argv)
        assert verbose.returncode == 0
        assert "INFO alembic" in verbose.stderr  # the lines --verbose is for
        assert json.loads(verbose.stdout) == json.loads(sweep.stdout)


def test_calendar_recompute_prints_its_counts(tmp_path: Path) -> None:
    env = {
        "RIGHTSDESK_ENV": "test",
        "RIGHTSDESK_DATA_DIR": str(tmp_path),
        "RIGHTSDESK_DATA_KEY": TEST_KEY,
    }
    assert rightsdesk(env, "migrate").returncode == 0
    settings = Settings(env="test", data_dir=tmp_path, data_key=TEST_KEY)
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/requests", json=request_body()).status_code == 201
    result = rightsdesk(env, "calendar", "recompute")
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout.strip())
    # Filed with the calendar the command loads: examined, nothing to change.
    assert counts == {"examined": 1, "changed": 0, "still_unconfirmed": 0}
    assert "0 deadline(s) changed of 1 open request(s)" in result.stderr
