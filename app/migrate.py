"""Alembic, driven from code: `rightsdesk migrate` and the start-up check."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from app.private_files import private_sqlite

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    # '%' must be escaped for configparser (URL-encoded passwords contain it).
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head", *, own_logging: bool = False) -> None:
    """`own_logging`: leave logging as the caller set it (the CLI: warnings only unless
    --verbose) instead of alembic.ini's, which prints Alembic's INFO lines."""
    private_sqlite(database_url)  # a database file the migration creates is private too
    cfg = alembic_config(database_url)
    if own_logging:
        cfg.attributes["skip_logging"] = True
    command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(database_url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


def assert_at_head(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    current = current_revision(engine)
    head = head_revision(url)
    if current != head:
        raise RuntimeError(
            f"database is at revision {current or 'none'}, code expects {head}: "
            "run `rightsdesk migrate` (or `make migrate`) first"
        )
