"""What the service writes under DATA_DIR is its own: directories 0700, files 0600, whatever
the umask; the development mail drop holds no one-time code in clear."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.integrations.mail import FileTransport
from app.main import create_app
from app.migrate import upgrade
from app.models.notice import Notice
from app.runtime import build_runtime
from app.services.notices.outbox import Outbox, transports_for
from app.settings import Settings
from tests.conftest import TEST_KEY, request_body
from tests.factories import file


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common default, under which files would be world-readable."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_dir_the_sqlite_database_and_the_evidence_store_are_private(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "srv" / "var"
    settings = Settings(env="test", data_dir=data_dir, data_key=TEST_KEY, embedded_worker=False)
    upgrade(settings.database_url_resolved)  # `rightsdesk migrate` on a new host
    app = create_app(settings)
    with TestClient(app) as client:
        assert file(client, request_body()).status_code == 201
    db = data_dir / "rightsdesk.db"
    assert mode(data_dir) == 0o700
    assert mode(data_dir.parent) == 0o700  # made by the service, so its own too
    assert mode(db) == 0o600
    for side in (data_dir / "rightsdesk.db-wal", data_dir / "rightsdesk.db-shm"):
        if side.exists():
            assert mode(side) == 0o600, side.name
    evidence = data_dir / "evidence"
    assert mode(evidence) == 0o700
    rt = app.state.runtime
    with rt.evidence.create() as blob:
        blob.write(b"synthetic scan")
        blob.commit()
    [shard] = [p for p in evidence.iterdir() if p.is_dir()]
    assert mode(shard) == 0o700
    assert all(mode(p) == 0o600 for p in shard.iterdir())
    rt.engine.dispose()


def test_an_existing_world_readable_data_dir_and_database_are_narrowed(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o755)
    settings = Settings(env="test", data_dir=data_dir, data_key=TEST_KEY, embedded_worker=False)
    upgrade(settings.database_url_resolved)
    db = data_dir / "rightsdesk.db"
    os.chmod(db, 0o644)
    os.chmod(data_dir, 0o755)
    build_runtime(settings).engine.dispose()
    assert (mode(data_dir), mode(db)) == (0o700, 0o600)


def test_the_generated_development_key_is_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    settings = Settings(env="development", data_dir=data_dir, embedded_worker=False)
    build_runtime(settings).engine.dispose()
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "data.key") == 0o600


class TestMailDrop:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {}  # no SMTP, no SMS gateway: everything goes to DATA_DIR/mail

    def code_of(self, runtime: Any, db: Session) -> tuple[Notice, str]:
        db.expire_all()
        [notice] = db.exec(select(Notice).where(Notice.kind == "verification_code")).all()
        body = runtime.vault.decrypt(notice.body_enc, field="notice.body")
        match = re.search(r"\b(\d{6})\b", body)
        assert match is not None
        return notice, match.group(1)

    def test_eml_files_are_private_and_hold_no_code(
        self, client: TestClient, runtime: Any, settings: Settings, db: Session
    ) -> None:
        created = file(client, request_body()).json()
        notice, code = self.code_of(runtime, db)
        assert Outbox(runtime).run_once() == 2
        mail_dir = settings.mail_dir
        assert mode(settings.data_dir) == 0o700 and mode(mail_dir) == 0o700
        files = sorted(mail_dir.glob("*.eml"))
        assert len(files) == 2
        for path in files:
            assert mode(path) == 0o600, path.name
            text = path.read_text(encoding="utf-8")
            assert code not in text and created["access_code"] not in text
        [eml] = mail_dir.glob(f"*-verification_code-{notice.id}.eml")
        assert "******" in eml.read_text(encoding="utf-8")  # masked, as the stored notice is

    @pytest.mark.parametrize("env", ["development", "test"])
    def test_outside_production_the_code_is_in_a_private_file_beside_it(
        self, client: TestClient, runtime: Any, settings: Settings, db: Session, env: str
    ) -> None:
        file(client, request_body())
        notice, code = self.code_of(runtime, db)
        transports = transports_for(settings.model_copy(update={"env": env}))
        assert isinstance(transports["email"], FileTransport)
        Outbox(runtime, transports).run_once()
        [eml] = settings.mail_dir.glob(f"*-verification_code-{notice.id}.eml")
        assert code not in eml.read_text(encoding="utf-8")
        side = eml.with_suffix(".code")
        assert side.read_text(encoding="utf-8").split() == [code]
        assert mode(side) == 0o600
        # Only code notices get one.
        assert [p.name for p in settings.mail_dir.glob("*.code")] == [side.name]

    def test_in_production_no_code_file_is_written(
        self, client: TestClient, runtime: Any, settings: Settings, db: Session
    ) -> None:
        file(client, request_body())
        _, code = self.code_of(runtime, db)
        production = settings.model_copy(update={"env": "production"})
        Outbox(runtime, transports_for(production)).run_once()
        assert len(list(settings.mail_dir.glob("*.eml"))) == 2
        assert list(settings.mail_dir.glob("*.code")) == []
        for path in settings.mail_dir.iterdir():
            assert code not in path.read_text(encoding="utf-8")
