"""The access package (PIPA art. 35, Decree art. 41): what the subject downloads, and each
download.

The extracts and the assembled ZIP are attachments (app/models/identity.py, kinds
`access_extract` and `access_package`): their bytes live encrypted in the evidence store, the
orphan sweep and the purge see them like every other file.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import utc_field

# Attachment kinds of the access package.
EXTRACT_KIND = "access_extract"
PACKAGE_KIND = "access_package"


class AccessPackage(SQLModel, table=True):
    """One per access request once it is released (electronic) or provided (in person, mail)."""

    __tablename__ = "access_package"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="request.id", unique=True)
    decision_id: int = Field(foreign_key="decision.id")
    # The assembled ZIP (an attachment of kind access_package); None until released.
    attachment_id: int | None = Field(default=None, foreign_key="attachment.id")
    released_by: int | None = Field(default=None, foreign_key="staff.id")
    released_at: datetime | None = utc_field(nullable=True)
    expires_at: datetime | None = utc_field(nullable=True)
    # Access given in person or by mail (POST .../access/provided).
    provided_at: datetime | None = utc_field(nullable=True)
    provided_note_enc: str | None = None
    created_at: datetime = utc_field()


class AccessDownload(SQLModel, table=True):
    """The requester downloaded the package (API or web status page)."""

    __tablename__ = "access_download"

    id: int | None = Field(default=None, primary_key=True)
    package_id: int = Field(foreign_key="access_package.id", index=True)
    via: str = Field(max_length=8)  # api | web
    at: datetime = utc_field()
