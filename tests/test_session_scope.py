"""The request's session (app/db.py session_scope): one commit on success, a rollback on an
error, except a DomainError flagged `commit` (a wrong one-time code must still count)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.pool import StaticPool
from sqlmodel import create_engine

from app.db import session_scope
from app.errors import DomainError, NotFound


class KeptRefusal(DomainError):
    commit = True


@pytest.mark.parametrize(
    ("error", "kept"), [(KeptRefusal(), True), (NotFound(), False), (RuntimeError(), False)]
)
def test_only_an_error_flagged_commit_keeps_the_work_before_it(
    error: Exception, kept: bool
) -> None:
    engine = create_engine("sqlite://", poolclass=StaticPool)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE attempts (n INTEGER)"))
    scope = session_scope(engine)
    session = next(scope)
    session.exec(text("INSERT INTO attempts VALUES (1)"))  # type: ignore[call-overload]
    with pytest.raises(type(error)):
        scope.throw(error)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM attempts")).scalar_one()
    assert rows == (1 if kept else 0)
