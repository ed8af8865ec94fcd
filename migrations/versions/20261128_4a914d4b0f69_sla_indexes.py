"""sla indexes: the dashboard and the sweep read indexes, not the request table

Revision ID: 4a914d4b0f69
Revises: baac1859e636
Create Date: 2026-11-28 03:30:54.320559

- ix_request_open_due (partial, open requests) also holds type, service, assignee_id,
  received_at and closed_on, so the dashboard counts and the sweep filter the open requests
  without reading the table.
- ix_request_breached (partial, closed_on > legal_due_on): the breached counts.
- ix_request_type_service_closed replaces ix_request_type: every request counted by type and
  service, and how many have a closing date, from the index alone.
- ix_request_closed_on also holds days_to_close and legal_due_on (the 30 / 90-day figures).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4a914d4b0f69"
down_revision: str | None = "baac1859e636"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status NOT IN ('completed', 'rejected', 'withdrawn')")
BREACHED = sa.text("closed_on > legal_due_on")


def upgrade() -> None:
    with op.batch_alter_table("request", schema=None) as batch_op:
        batch_op.drop_index("ix_request_type")
        batch_op.create_index(
            "ix_request_type_service_closed", ["type", "service", "closed_on"], unique=False
        )
        batch_op.drop_index("ix_request_closed_on")
        batch_op.create_index(
            "ix_request_closed_on", ["closed_on", "days_to_close", "legal_due_on"], unique=False
        )
        batch_op.drop_index("ix_request_open_due", sqlite_where=OPEN, postgresql_where=OPEN)
        batch_op.create_index(
            "ix_request_open_due",
            ["legal_due_on", "id", "type", "service", "assignee_id", "received_at", "closed_on"],
            unique=False,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )
        batch_op.create_index(
            "ix_request_breached",
            ["type", "service", "status"],
            unique=False,
            sqlite_where=BREACHED,
            postgresql_where=BREACHED,
        )


def downgrade() -> None:
    with op.batch_alter_table("request", schema=None) as batch_op:
        batch_op.drop_index("ix_request_breached", sqlite_where=BREACHED, postgresql_where=BREACHED)
        batch_op.drop_index("ix_request_open_due", sqlite_where=OPEN, postgresql_where=OPEN)
        batch_op.create_index(
            "ix_request_open_due",
            ["legal_due_on", "id"],
            unique=False,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        )
        batch_op.drop_index("ix_request_closed_on")
        batch_op.create_index("ix_request_closed_on", ["closed_on"], unique=False)
        batch_op.drop_index("ix_request_type_service_closed")
        batch_op.create_index("ix_request_type", ["type"], unique=False)
