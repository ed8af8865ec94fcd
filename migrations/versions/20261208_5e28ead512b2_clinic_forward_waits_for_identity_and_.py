"""clinic_forward: the e-mail waits for our identity check; the applied decision; the answer

- forwarded_at becomes nullable: the clinic's e-mail (which names the patient) leaves only
  once the request's identity check is done.
- decision_id: the decision made of the clinic's instruction (only it gets the clinic's
  result notice). applied_at: when staff applied the instruction. answered_at: a clinic that
  answers the patient itself confirmed it did (the request stays open until then).
  Forwards already applied are backfilled from their request's latest decision.

Revision ID: 5e28ead512b2
Revises: 1261d5d64982
Create Date: 2026-12-08 03:41:21.114305
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base


revision: str = '5e28ead512b2'
down_revision: str | None = '1261d5d64982'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('clinic_forward', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decision_id', sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column('applied_at', app.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column('answered_at', app.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.alter_column(
            'forwarded_at',
            existing_type=app.models.base.UTCDateTime(timezone=True),
            nullable=True,
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_clinic_forward_decision_id_decision'),
            'decision',
            ['decision_id'],
            ['id'],
        )
    # Instructions already applied: a decision exists (carry out, refuse), or the request
    # completed on the clinic's own answer.
    op.execute(
        "UPDATE clinic_forward SET decision_id = (SELECT max(d.id) FROM decision d "
        "WHERE d.request_id = clinic_forward.request_id), applied_at = instructed_at "
        "WHERE instruction IN ('carry_out', 'refuse') AND EXISTS "
        "(SELECT 1 FROM decision d WHERE d.request_id = clinic_forward.request_id)"
    )
    op.execute(
        "UPDATE clinic_forward SET applied_at = instructed_at, answered_at = instructed_at "
        "WHERE instruction = 'clinic_answers' AND EXISTS (SELECT 1 FROM request r "
        "WHERE r.id = clinic_forward.request_id AND r.status = 'completed')"
    )


def downgrade() -> None:
    op.execute("UPDATE clinic_forward SET forwarded_at = due_on WHERE forwarded_at IS NULL")
    with op.batch_alter_table('clinic_forward', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_clinic_forward_decision_id_decision'), type_='foreignkey'
        )
        batch_op.alter_column(
            'forwarded_at',
            existing_type=app.models.base.UTCDateTime(timezone=True),
            nullable=False,
        )
        batch_op.drop_column('answered_at')
        batch_op.drop_column('applied_at')
        batch_op.drop_column('decision_id')
