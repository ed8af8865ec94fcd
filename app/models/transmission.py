"""The transmission log (Decree art. 42-6(11)): every transmission, kept 3 years.

No personal data: the request's reference, where the data went (the subject, or the
recipient institution's name and registration), which item codes, when, and the result.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.models.base import utc_field


class TransmissionLog(SQLModel, table=True):
    __tablename__ = "transmission_log"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", index=True)
    to: str = Field(max_length=16)  # self | third_party
    recipient_name: str | None = Field(default=None, max_length=300)
    recipient_code: str | None = Field(default=None, max_length=64)
    holder_code: str | None = Field(default=None, max_length=64)
    items: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # transmitted | failed | refused
    result: str = Field(max_length=16)
    at: datetime = utc_field(index=True)
