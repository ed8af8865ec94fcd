"""Decision.access and Decision.retention: typed models through one JSON column type, stored in
the same JSON shape as before (no migration)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, text

from app.models.base import PydanticJSON
from app.models.decision import DecisionAccess, RetentionEntry
from app.models.vocab import Delivery

KST = timezone(timedelta(hours=9))
ACCESS = DecisionAccess(
    method=Delivery.IN_PERSON,
    available_at=datetime(2026, 12, 22, 14, 0, tzinfo=KST),
    place="본사 3층 회의실",
    fee_krw=1000,
)
ENTRY = RetentionEntry(
    item="order_history",
    item_name="주문 내역",
    action="keep",
    keep_until=date(2031, 12, 31),
    rule="ecommerce_contract",
    statute="전자상거래법",
    reason="법령에 따라 보관합니다.",
)


def _table() -> tuple[Any, Table]:
    engine = create_engine("sqlite://")
    table = Table(
        "t",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("access", PydanticJSON(DecisionAccess | None), nullable=True),
        Column("retention", PydanticJSON(list[RetentionEntry] | None), nullable=True),
    )
    table.metadata.create_all(engine)
    return engine, table


def test_the_stored_json_keeps_its_shape_and_loads_as_models() -> None:
    engine, table = _table()
    with engine.begin() as c:
        c.execute(insert(table).values(id=1, access=ACCESS, retention=[ENTRY]))
        c.execute(insert(table).values(id=2, access=None, retention=None))
        raw = c.execute(text("SELECT access, retention FROM t WHERE id = 1")).one()
        loaded = c.execute(select(table.c.access, table.c.retention).order_by(table.c.id)).all()
    assert json.loads(raw.access) == {
        "method": "in_person",
        "available_at": "2026-12-22T14:00:00+09:00",  # as datetime.isoformat() wrote it
        "place": "본사 3층 회의실",
        "fee_krw": 1000,
        "postage_krw": 0,
        "caused_by_controller": False,
    }
    assert json.loads(raw.retention) == [
        {
            "item": "order_history",
            "item_name": "주문 내역",
            "action": "keep",
            "keep_until": "2031-12-31",
            "rule": "ecommerce_contract",
            "statute": "전자상거래법",
            "article": None,  # added later: rows stored before it load with None
            "reason": "법령에 따라 보관합니다.",
        }
    ]
    assert loaded[0] == (ACCESS, [ENTRY]) and loaded[1] == (None, None)


def test_a_row_written_before_the_models_loads() -> None:
    engine, table = _table()
    old = (
        '{"method": "mail", "available_at": null, "place": null, "fee_krw": 0,'
        ' "postage_krw": 3000, "caused_by_controller": false}'
    )
    with engine.begin() as c:
        c.execute(text("INSERT INTO t (id, access) VALUES (1, :a)"), {"a": old})
        access = c.execute(select(table.c.access)).scalar_one()
    assert access == DecisionAccess(method=Delivery.MAIL, postage_krw=3000)


def test_a_malformed_value_is_refused_on_bind_and_on_load() -> None:
    engine, table = _table()
    with pytest.raises(Exception, match="method"), engine.begin() as c:
        c.execute(insert(table).values(id=1, access={"method": "fax"}))
    with engine.begin() as c:
        c.execute(text("""INSERT INTO t (id, access) VALUES (2, '{"method": "fax"}')"""))
    with pytest.raises(ValidationError), engine.begin() as c:
        c.execute(select(table.c.access)).scalar_one()
