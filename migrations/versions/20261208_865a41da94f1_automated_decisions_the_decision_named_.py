"""automated decisions: the decision named, extensions, measure and explanation

Revision ID: 865a41da94f1
Revises: 41195585cc4a
Create Date: 2026-12-08 02:42:56.498929
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "865a41da94f1"
down_revision: str | None = "41195585cc4a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ad_measure", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(
            sa.Column("ad_explanation_enc", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )

    with op.batch_alter_table("request", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "automated_decision", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
            )
        )
        # Existing requests were never extended.
        batch_op.add_column(
            sa.Column("extensions", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("request", schema=None) as batch_op:
        batch_op.drop_column("extensions")
        batch_op.drop_column("automated_decision")

    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_column("ad_explanation_enc")
        batch_op.drop_column("ad_measure")
