"""Engine and the per-request session: one transaction per request."""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, create_engine

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
        WriteTurns(SQLITE_BUSY_SECONDS).install(engine)
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


# How long a SQLite writer waits for the database before "database is locked".
SQLITE_BUSY_SECONDS = 30.0

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")


class WriteTurns:
    """SQLite has one writer at a time. Left to itself, a blocked writer polls (SQLite's busy
    handler sleeps 1, 2, 5 … 100 ms between tries), so a newcomer often overtakes a thread
    that has waited for seconds. Within this process, writers instead queue here in arrival
    order: a transaction takes its turn at its first write and gives it back at its commit or
    rollback (or when its connection is closed). Other processes still meet in the busy
    handler."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._cond = threading.Condition()
        self._queue: deque[object] = deque()
        self._holder: int | None = None  # id() of the DBAPI connection that holds the turn

    def install(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before_execute)
        dialect = engine.dialect
        for name in ("do_commit", "do_rollback", "do_close"):
            setattr(dialect, name, self._releasing(getattr(dialect, name)))

    def take(self, holder: int) -> None:
        with self._cond:
            if self._holder == holder:
                return
            me = object()
            self._queue.append(me)
            if not self._cond.wait_for(
                lambda: self._holder is None and self._queue[0] is me, self.timeout
            ):
                self._queue.remove(me)
                self._cond.notify_all()
                raise sqlite3.OperationalError("database is locked")
            self._queue.popleft()
            self._holder = holder

    def give(self, holder: int) -> None:
        with self._cond:
            if self._holder == holder:
                self._holder = None
                self._cond.notify_all()

    def _before_execute(self, conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip()[:6].upper() in _WRITES:
            self.take(id(conn.connection.dbapi_connection))

    def _releasing(self, end: Callable[[Any], None]) -> Callable[[Any], None]:
        def ended(dbapi_connection: Any) -> None:
            try:
                end(dbapi_connection)
            finally:
                # The pool passes its proxy; the engine and before_cursor_execute the same.
                self.give(id(getattr(dbapi_connection, "dbapi_connection", dbapi_connection)))

        return ended


def session_scope(engine: Engine) -> Iterator[Session]:
    """Commit once when the handler succeeds, roll back on any error.

    Workflows and services only flush(); nothing below this commits.
    """
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# For code outside a request (worker, CLI, tests): `with transaction(engine) as session:`.
transaction = contextmanager(session_scope)
