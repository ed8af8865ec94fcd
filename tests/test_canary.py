"""Canary: synthetic personal data filed through every path never appears in clear.

The walk of tests/canary.py runs once per database backend; each test below searches one
surface of what it left, so a failure names the surface:

- every canary comes back decrypted to staff (else the others could pass by finding nothing);
- no staff view, nor the register export, shows a resident registration number typed into free
  text: it is masked before it is stored;
- no log record (every logger at DEBUG, uvicorn's access log included) carries any canary;
- no row of any table holds one in clear;
- no byte of any file the service wrote (the SQLite file with its WAL and shared memory, the
  evidence store) holds one, except the delivered e-mail under data_dir/mail, which is
  addressed to a person by design;
- neither the delivered e-mail nor the messages posted back into the chat carry the number;
- the metrics carry no canary.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.main import create_app
from app.settings import Settings
from tests.canary import (
    ALSO_NEVER,
    C_DELEGATOR_ADDRESS,
    CANARIES,
    MASKED_RRN,
    RRN,
    TOKEN,
    WEBHOOK,
    A,
    D,
    Walk,
    file_findings,
    found_in,
    found_in_bytes,
    json_paths,
    log_findings,
    row_findings,
    walk,
)
from tests.channeltalk_fake import FakeChannelTalk
from tests.conftest import TEST_KEY, Clock
from tests.servers import free_port

pytestmark = pytest.mark.slow  # one walk per backend under a real uvicorn

REGISTER_EXPORT = "GET /v1/staff/reports/register.csv"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def walked(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Walk]:
    root = tmp_path_factory.mktemp("canary")
    if request.param == "sqlite":
        db = root / "rightsdesk.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), db)
        database_url = f"sqlite:///{db}"
    else:
        fresh_db: Callable[[], str] = request.getfixturevalue("postgres_database")
        database_url = fresh_db()
    port = free_port()
    with FakeChannelTalk() as fake:
        settings = Settings(
            env="test",
            data_dir=root / "var",
            database_url=database_url,
            data_key=TEST_KEY,
            embedded_worker=False,
            intake_rate_limit=1000,
            public_rate_limit_per_minute=0,
            channeltalk_webhook_token=TOKEN,
            channeltalk_access_key="test-key",
            channeltalk_access_secret="test-secret",
            channeltalk_api_base=fake.base_url,
            channeltalk_service="uno",
            channeltalk_max_rate_wait_seconds=5,
            # Processors' instructions carry a confirmation link to this server.
            public_base_url=f"http://127.0.0.1:{port}",
        )
        app = create_app(settings, clock=Clock())
        yield walk(app, app.state.runtime, settings, fake, port, root)


def views_except_export(walked: Walk) -> list[tuple[str, str, Any]]:
    return [v for v in walked.views if not v[0].startswith(REGISTER_EXPORT)]


def rrn_read_back(views: list[tuple[str, str, Any]]) -> list[str]:
    findings = []
    for where, text, data in views:
        if RRN.split("-")[1] in text:
            places = json_paths(data, RRN.split("-")[1]) if data is not None else [text]
            findings += [f"RRN read back decrypted: {where} {p}" for p in dict.fromkeys(places)]
    return findings


def test_the_detectors_find_what_they_look_for() -> None:
    # Else the surface tests could pass by looking at nothing.
    probe = logging.LogRecord("probe", logging.INFO, __file__, 0, "x %s", (A["name"],), None)
    assert log_findings([probe]) and "D.email" in found_in(repr({"n": D["email"]}))
    escaped = json.dumps([C_DELEGATOR_ADDRESS]).encode()  # \uce90...: not UTF-8 on disk
    assert [label for label, _ in found_in_bytes(escaped)] == ["C.delegator_address"]


def test_every_canary_is_read_back_by_staff(walked: Walk) -> None:
    seen = "\n".join(text for _, text, _ in walked.views)
    missing = [label for label, value in CANARIES.items() if value not in seen]
    assert missing == [], f"never read back, so perhaps never filed: {missing}"
    assert MASKED_RRN in seen  # ...and the number was filed, masked


def test_staff_views_show_no_resident_registration_number(walked: Walk) -> None:
    findings = rrn_read_back(views_except_export(walked))
    assert findings == [], "\n".join(findings)


def test_the_register_export_has_no_resident_registration_number(walked: Walk) -> None:
    export = [v for v in walked.views if v[0].startswith(REGISTER_EXPORT)]
    assert len(export) == 1
    findings = rrn_read_back(export)
    assert findings == [], "\n".join(findings)


def test_no_log_record_carries_personal_data(walked: Walk) -> None:
    records = walked.records
    access = [r for r in records if r.name == "uvicorn.access"]
    assert len(access) > 50, "uvicorn's access log was not captured"
    assert any(f"{WEBHOOK}?token=[redacted]" in r.getMessage() for r in access)
    assert any(r.name == "rightsdesk.outbox" for r in records)
    findings = log_findings(records)
    assert findings == [], "personal data in clear:\n" + "\n".join(findings)


def test_no_database_row_holds_personal_data_in_clear(walked: Walk) -> None:
    # Every value of every row, as the database returns it.
    findings, dump = row_findings(walked.runtime)
    assert b"DSR-" in dump and len(dump) > 10_000
    assert findings == [], "personal data in clear:\n" + "\n".join(findings)


def test_no_file_the_service_wrote_holds_personal_data_in_clear(walked: Walk) -> None:
    # Every file under the walk's directory: the SQLite file with its -wal and -shm, the
    # evidence store; not the delivered e-mail, which is addressed to a person by design.
    settings = walked.settings
    files, read = file_findings(walked.root, settings.mail_dir)
    findings = list(dict.fromkeys(walked.live_files + files))
    evidence = [p for p in read if p.is_relative_to(settings.evidence_dir)]
    assert len(evidence) >= 6, evidence  # B: 3, C: 2, A: 1 task evidence
    url = settings.database_url_resolved
    if url.startswith("sqlite"):
        db_file = Path(url.removeprefix("sqlite:///"))
        assert db_file in read and db_file.stat().st_size > 0
    assert findings == [], "personal data in clear:\n" + "\n".join(findings)


def test_outbound_mail_and_chat_messages_carry_no_resident_registration_number(
    walked: Walk,
) -> None:
    # Addressed to the person, so their own data may be there; the number may not.
    numbers = [ALSO_NEVER[label] for label in ("RRN", "RRN.digits", "RRN.back")]
    findings = []
    mails = sorted(walked.settings.mail_dir.glob("*.eml"))
    assert mails, "no e-mail was delivered"
    for path in mails:
        raw = path.read_bytes()
        findings += [f"e-mail {path.name} has {n}" for n in numbers if n.encode() in raw]
    assert walked.chat_messages, "nothing was posted back to the chat"
    for i, text in enumerate(walked.chat_messages):
        findings += [f"chat message {i} has {n}" for n in numbers if n in text]
    assert findings == [], "\n".join(findings)


def test_the_metrics_carry_no_personal_data(walked: Walk) -> None:
    assert "rightsdesk_" in walked.metrics
    assert found_in(walked.metrics) == []
