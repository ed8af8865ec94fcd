"""notice full text (the form an SMS points to)

Revision ID: 5c0e7a1f3b2d
Revises: acea333eba3c
Create Date: 2026-12-08 00:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "5c0e7a1f3b2d"
down_revision: str | None = "acea333eba3c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notice") as batch:
        batch.add_column(sa.Column("full_body_enc", sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notice") as batch:
        batch.drop_column("full_body_enc")
