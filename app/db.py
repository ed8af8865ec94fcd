"""Engine and the per-request session: one transaction per request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from app.errors import DomainError
from app.private_files import private_dir, private_sqlite
from app.settings import Settings


def make_engine(settings: Settings) -> Engine:
    url = settings.database_url_resolved
    if url.startswith("sqlite"):
        private_dir(settings.data_dir)
        private_sqlite(url)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # One pool per process: web workers and worker processes each hold up to
    # DB_POOL_SIZE + DB_MAX_OVERFLOW connections (size PostgreSQL's max_connections for it).
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# How long a SQLite writer waits for the database before "database is locked": SQLite's
# own busy handler is enough for one process (PostgreSQL beyond that).
SQLITE_BUSY_SECONDS = 30.0


def session_scope(engine: Engine) -> Iterator[Session]:
    """Commit once when the handler succeeds, roll back on any error except a DomainError
    flagged `commit` (its work is kept, then it is answered like any other error).

    Workflows and services only flush(); nothing below this commits.
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except DomainError as exc:
            settle(session, exc)
            raise
        except BaseException:
            session.rollback()
            raise


def settle(session: Session, error: DomainError) -> None:
    """After a refusal: keep what a `commit` error did, undo anything else. For a handler that
    answers a refusal itself (the web form) as for the session above."""
    if error.commit:
        session.commit()
    else:
        session.rollback()


# For code outside a request (worker, CLI, tests): `with transaction(engine) as session:`.
transaction = contextmanager(session_scope)
