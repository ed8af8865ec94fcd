"""Shared column types and the constraint naming convention."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter
from sqlalchemy import JSON, DateTime, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

# Explicit names so Alembic migrations are stable across SQLite and PostgreSQL.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Always stores UTC and always returns an aware datetime, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


E = TypeVar("E", bound=StrEnum)


class StrEnumType(TypeDecorator[E], Generic[E]):
    """A StrEnum stored as its plain value in a VARCHAR (no database enum, so no migration):
    an unknown value is refused on the way in and reads back as the enum member."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)


def enum_field(
    enum: type[E],
    *,
    length: int,
    default: Any = ...,
    nullable: bool = False,
) -> Any:
    """A StrEnum column kept as VARCHAR(length) (a new Column each call); a default applies
    to Core inserts too, as SQLModel's own columns do."""
    from sqlalchemy import Column
    from sqlmodel import Field

    column: Column[Any] = Column(
        StrEnumType(enum, length),
        nullable=nullable,
        default=None if default is ... else default,
    )
    return Field(default=default, sa_column=column)


T = TypeVar("T")


class PydanticJSON(TypeDecorator[T], Generic[T]):
    """A JSON column read and written through a pydantic type: validated when loaded, dumped
    as plain JSON when bound (the stored shape is the model's JSON dump)."""

    impl = JSON
    cache_ok = True

    def __init__(self, value_type: Any) -> None:
        super().__init__()
        self.value_type = value_type
        self.adapter: TypeAdapter[T] = TypeAdapter(value_type)

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return self.adapter.dump_python(self.adapter.validate_python(value), mode="json")

    def process_result_value(self, value: Any, dialect: Dialect) -> T | None:
        return None if value is None else self.adapter.validate_python(value)


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc_field(*, nullable: bool = False, index: bool = False) -> Any:
    """A tz-aware `*_at` column (a new Column each call: columns cannot be shared)."""
    from sqlalchemy import Column
    from sqlmodel import Field

    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index))
