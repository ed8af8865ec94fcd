"""Schema from migrations, encryption at rest, and the key rules of the settings."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from cryptography.exceptions import InvalidTag
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import app.models  # noqa: F401
from app.core.crypto import Vault
from app.main import create_app
from app.migrate import upgrade
from app.runtime import Runtime
from app.settings import Settings
from app.workflows import rrn
from tests.conftest import TEST_KEY, request_body
from tests.factories import DELEGATE, delegate_body, file


def test_migrations_build_exactly_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata
        )
    engine.dispose()
    assert diff == []


def test_app_refuses_a_database_that_was_not_migrated(tmp_path: Path) -> None:
    settings = Settings(
        env="test",
        data_dir=tmp_path,
        data_key=TEST_KEY,
        database_url=f"sqlite:///{tmp_path / 'empty.db'}",
    )
    with pytest.raises(RuntimeError, match="rightsdesk migrate"), TestClient(create_app(settings)):
        pass
    upgrade(settings.database_url_resolved)
    with TestClient(create_app(settings)) as c:
        assert c.get("/healthz").status_code == 200


def test_database_holds_no_personal_data_in_plain_text(
    client: TestClient, settings: Settings, runtime: Runtime
) -> None:
    body = delegate_body()
    body["subject"]["phone"] = "010-9876-5432"
    body["details"] = "가상의 상세 내용 문장"
    assert file(client, body).status_code == 201
    client.post("/v1/requests", json=request_body(), headers={"Idempotency-Key": "once"})
    # Every value of every row, as the database returns it.
    with runtime.engine.connect() as conn:
        dump = "".join(
            repr(tuple(row))
            for table in SQLModel.metadata.sorted_tables
            for row in conn.execute(table.select())
        ).encode()
    url = settings.database_url_resolved
    if url.startswith("sqlite"):  # and the file itself, WAL included
        db_path = Path(url.removeprefix("sqlite:///"))
        dump += b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    for secret in [
        "김가상",
        "이대리",
        "kim.gasang",
        DELEGATE["email"],
        # Whole numbers: four digits also turn up by chance in base64 ciphertext.
        "98765432",
        "9876-5432",
        "1990-05-01",
        "1980-02-02",
        "가상의 상세",
        "서울특별시",
    ]:
        assert secret.encode() not in dump, secret
    assert b"DSR-" in dump  # the dump did read the rows


def test_vault_round_trip_and_field_binding() -> None:
    vault = Vault.from_text(TEST_KEY, scrub=rrn.mask)
    token = vault.encrypt("김가상", field="party.name")
    assert vault.decrypt(token, field="party.name") == "김가상"
    assert token != vault.encrypt("김가상", field="party.name")  # fresh nonce every time
    with pytest.raises(InvalidTag):  # a ciphertext moved to another column does not open
        vault.decrypt(token, field="party.email")
    assert vault.blind_index("010-1234-5678", field="phone") == vault.blind_index(
        "+82 10 1234 5678", field="phone"
    )


def _nonce(token: str) -> bytes:
    return base64.urlsafe_b64decode(token.partition(":")[2])[:12]


def test_no_two_encryptions_share_a_nonce_not_even_across_a_fork() -> None:
    """AES-GCM breaks if a key ever sees the same nonce twice. Nonces come from the OS
    random source in bulk; a forked web worker must not hand out its parent's next ones."""
    vault = Vault.from_text(TEST_KEY, scrub=rrn.mask)
    seen = {_nonce(vault.encrypt("x", field="party.name")) for _ in range(2000)}
    assert len(seen) == 2000
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next nonces, to the parent
        try:
            child = b"".join(_nonce(vault.encrypt("x", field="party.name")) for _ in range(8))
            os.write(write, child)
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 1024)
    os.close(read)
    parent = b"".join(_nonce(vault.encrypt("x", field="party.name")) for _ in range(8))
    assert len(child) == 96 and child != parent


def test_key_is_required_outside_development(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RIGHTSDESK_DATA_KEY", raising=False)
    with pytest.raises(ValidationError, match="RIGHTSDESK_DATA_KEY"):
        Settings(env="production", data_dir=tmp_path)
    dev = Settings(env="development", data_dir=tmp_path)
    from app.runtime import data_key_text

    key = data_key_text(dev)
    assert (tmp_path / "data.key").stat().st_mode & 0o077 == 0
    assert data_key_text(dev) == key  # the same key on the next start
