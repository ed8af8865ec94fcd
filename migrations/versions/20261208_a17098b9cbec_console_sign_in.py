"""console sign-in: staff passwords and TOTP, browser sessions, enrolment links, sign-in log

Revision ID: a17098b9cbec
Revises: 9d4f1b2c7e60
Create Date: 2026-12-08 02:42:24.328323
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.models.base


revision: str = "a17098b9cbec"
down_revision: str | None = "9d4f1b2c7e60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("second_factor", sa.Boolean(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_console_session_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_console_session_token_hash")),
    )
    with op.batch_alter_table("console_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_console_session_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "enrolment_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("totp_secret_enc", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_enrolment_link_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolment_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_enrolment_link_token_hash")),
    )
    with op.batch_alter_table("enrolment_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enrolment_link_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "sign_in_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("event", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("client_ip", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_sign_in_log_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_log")),
    )
    with op.batch_alter_table("sign_in_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_sign_in_log_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "staff_credential",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("totp_secret_enc", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("enrolled_at", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_totp_step", sa.Integer(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("locked_until", app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_staff_credential_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_staff_credential")),
    )


def downgrade() -> None:
    op.drop_table("staff_credential")
    with op.batch_alter_table("sign_in_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_log_staff_id"))
        batch_op.drop_index(batch_op.f("ix_sign_in_log_at"))

    op.drop_table("sign_in_log")
    with op.batch_alter_table("enrolment_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrolment_link_staff_id"))

    op.drop_table("enrolment_link")
    with op.batch_alter_table("console_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_session_staff_id"))

    op.drop_table("console_session")
