"""An unhandled error reaches the server's log as one line naming its type and route: never
a traceback, whose frames and message carry SQL text and the personal data bound into it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_KEY
from tests.servers import free_port

# `rightsdesk serve` exactly as deployed, with one extra route that fails inside the database
# with an address in its SQL (synthetic, as everything here).
SERVE_WITH_A_FAILING_ROUTE = """
import sys

from sqlalchemy import text

import app.main
from app.cli import main
from app.db import transaction

made = app.main.app_factory


def with_a_failing_route():
    application = made()

    @application.get("/fails")
    def fails() -> None:
        with transaction(application.state.runtime.engine) as session:
            session.connection().execute(
                text("SELECT no_such_column FROM party WHERE note = 'kim.gasang@example.com'")
            )

    return application


app.main.app_factory = with_a_failing_route
sys.exit(main(["serve", "--port", sys.argv[1]]))
"""


@pytest.mark.slow  # a real server in a subprocess
def test_serve_logs_an_unhandled_error_without_traceback_sql_or_personal_data(
    tmp_path: Path, database_url: str
) -> None:
    script = tmp_path / "serve_failing.py"
    script.write_text(SERVE_WITH_A_FAILING_ROUTE)
    port = free_port()
    env = {
        **os.environ,
        "RIGHTSDESK_ENV": "test",
        "RIGHTSDESK_DATA_DIR": str(tmp_path / "var"),
        "RIGHTSDESK_DATABASE_URL": database_url,
        "RIGHTSDESK_DATA_KEY": TEST_KEY,
        "RIGHTSDESK_EMBEDDED_WORKER": "false",
        "RIGHTSDESK_LOG_LEVEL": "debug",
    }
    server = subprocess.Popen(
        [sys.executable, str(script), str(port)],
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:  # wait until the server answers
            assert server.poll() is None, "the server exited"
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        resp = httpx.get(f"{base}/fails?token=secret-in-url", timeout=10)
        assert resp.status_code == 500
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["code"] == "internal_error"
        assert "kim.gasang" not in resp.text and "SELECT" not in resp.text
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200  # still serving
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=30)
    # SQLite says OperationalError, PostgreSQL ProgrammingError: one line, type and route.
    [line] = [ln for ln in output.splitlines() if "unhandled" in ln]
    assert re.search(r"ERROR rightsdesk\.errors: unhandled \w+Error on GET /fails", line), line
    for leak in ("Traceback", "kim.gasang", "SELECT", "no_such_column", "secret-in-url"):
        assert leak not in output, f"{leak!r} in the server's log:\n{output}"
    assert "/fails?token=[redacted]" in output  # the access log line, redacted


def test_no_handler_of_the_log_config_writes_a_traceback() -> None:
    """Whatever logs an exception with its traceback (uvicorn at start-up, a library's pool),
    the handler `serve` and the other commands install writes its type only."""
    import logging

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    from app.core.logredact import log_config

    config = log_config("info")
    handler = config["handlers"]["stderr"]
    formatter_spec = dict(config["formatters"][handler["formatter"]])
    factory = formatter_spec.pop("()")
    formatter = factory(**formatter_spec)
    engine = create_engine("sqlite://")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT x FROM nowhere WHERE email = 'kim.gasang@example.com'"))
    except OperationalError:
        record = logging.getLogger("sqlalchemy.pool").makeRecord(
            "sqlalchemy.pool", logging.ERROR, __file__, 1, "query failed", (), sys.exc_info()
        )
    written = formatter.format(record)
    assert written.endswith("query failed [OperationalError; traceback withheld]")
    assert "Traceback" not in written and "kim.gasang" not in written
    assert "SELECT" not in written
    assert record.exc_info is not None  # other handlers (pytest's) still see the exception
    assert config["loggers"]["uvicorn.access"]["handlers"] == ["stderr"]
