"""Status columns: StrEnum members in Python, plain VARCHAR values in the database."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select, text

from app.models import Decision, Notice, Request, Task
from app.models.base import StrEnumType
from app.models.vocab import DecisionState, NoticeStatus, Outcome, Status, TaskStatus


@pytest.mark.parametrize(
    ("column", "enum", "length"),
    [
        (Request.__table__.c.status, Status, 32),
        (Request.__table__.c.resume_status, Status, 32),
        (Request.__table__.c.outcome, Outcome, 32),
        (Decision.__table__.c.outcome, Outcome, 32),
        (Decision.__table__.c.state, DecisionState, 24),
        (Task.__table__.c.status, TaskStatus, 16),
        (Notice.__table__.c.status, NoticeStatus, 16),
    ],
)
def test_each_status_column_is_its_enum_over_a_varchar(
    column: Column[object], enum: type, length: int
) -> None:
    assert isinstance(column.type, StrEnumType) and column.type.enum is enum
    impl = column.type.impl_instance
    assert isinstance(impl, String) and impl.length == length


def test_values_are_stored_as_text_and_read_back_as_members() -> None:
    engine = create_engine("sqlite://")
    table = Table(
        "t",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("status", StrEnumType(Status, 32), nullable=False),
    )
    table.metadata.create_all(engine)
    with engine.begin() as c:
        c.execute(insert(table).values(id=1, status=Status.IN_REVIEW))
        c.execute(insert(table).values(id=2, status="completed"))  # a plain value binds too
        raw = c.execute(text("SELECT status FROM t ORDER BY id")).scalars().all()
        loaded = c.execute(select(table.c.status).order_by(table.c.id)).scalars().all()
        found = c.execute(select(table.c.id).where(table.c.status == Status.COMPLETED)).all()
    assert raw == ["in_review", "completed"]
    assert loaded == [Status.IN_REVIEW, Status.COMPLETED]
    assert all(type(s) is Status for s in loaded)
    assert found == [(2,)]
    with pytest.raises(Exception, match="no_such_status"), engine.begin() as c:
        c.execute(insert(table).values(id=3, status="no_such_status"))
