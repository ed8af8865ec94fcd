"""info request: the question of a 보완 요청 and its date, for the status page

Revision ID: 9d4f1b2c7e60
Revises: caba93b0cca2
Create Date: 2026-12-08 01:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.models.base

revision: str = "9d4f1b2c7e60"
down_revision: str | None = "caba93b0cca2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "info_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("message_enc", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("respond_by", sa.Date(), nullable=True),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["request.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_info_request_request_id"), "info_request", ["request_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_info_request_request_id"), table_name="info_request")
    op.drop_table("info_request")
