"""The staff console's sign-in: passwords and second factors, browser sessions, one-time
enrolment links, and the log of every sign-in, failure and sign-out (접속기록)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import utc_field


class StaffCredential(SQLModel, table=True):
    """One per staff member who has enrolled: an argon2id hash and an encrypted TOTP secret."""

    __tablename__ = "staff_credential"

    staff_id: int = Field(foreign_key="staff.id", primary_key=True)
    password_hash: str = Field(max_length=255)
    totp_secret_enc: str
    enrolled_at: datetime = utc_field()
    # The last TOTP time step accepted: a code of that step or an earlier one is refused, so
    # a code seen over a shoulder cannot be used again within its 30 seconds.
    last_totp_step: int = 0
    # Wrong passwords and wrong codes in a row; locked until `locked_until` once at the limit.
    failed_count: int = 0
    locked_until: datetime | None = utc_field(nullable=True)


class ConsoleSession(SQLModel, table=True):
    """A browser's session. The cookie holds a random token (signed); only its SHA-256 is
    stored. `second_factor` is False between the password and the TOTP code."""

    __tablename__ = "console_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    staff_id: int = Field(foreign_key="staff.id", index=True)
    second_factor: bool = False
    created_at: datetime = utc_field()
    last_seen_at: datetime = utc_field()
    ended_at: datetime | None = utc_field(nullable=True)


class EnrolmentLink(SQLModel, table=True):
    """`rightsdesk staff add` prints one: it sets the password and the TOTP secret, once."""

    __tablename__ = "enrolment_link"

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    # The secret the page shows as a QR code; it becomes the credential's on enrolment.
    totp_secret_enc: str
    created_at: datetime = utc_field()
    expires_at: datetime = utc_field()
    used_at: datetime | None = utc_field(nullable=True)


class SignInLog(SQLModel, table=True):
    """Every sign-in, failed try, lockout, enrolment and sign-out (안전성 확보조치 기준 art.
    8: 접속기록). A failure with an unknown name has no staff member; the name typed is not
    kept (it is sometimes a password typed into the wrong field)."""

    __tablename__ = "sign_in_log"

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int | None = Field(default=None, foreign_key="staff.id", index=True)
    event: str = Field(max_length=32)
    client_ip: str | None = Field(default=None, max_length=64)
    at: datetime = utc_field(index=True)
