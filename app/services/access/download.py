"""The requester downloads the released package: logged in the timeline, in the package's
downloads (which staff see in the manifest) and in the access log of personal-data reads."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from app.errors import DomainError, NotFound
from app.evidence.store import BlobReader
from app.models.access import AccessDownload
from app.models.identity import Attachment
from app.models.request import Request
from app.models.staff import AccessLog
from app.runtime import Runtime
from app.services.access.package import package_of
from app.services.audit.timeline import note
from app.workflows import access_package as rules
from app.workflows.transmission import uses_package

# The requester's download in the access log (no staff member).
DOWNLOAD_ACTION = "requester_download"
DOWNLOAD_PURPOSE = "열람 자료 제공(정보주체 내려받기)"


class PackageExpired(DomainError):
    status, code, title = 410, "package_expired", "열람 자료의 내려받기 기한이 지났습니다."


@dataclass
class Download:
    reader: BlobReader
    size: int
    filename: str
    reference: str


def download(
    session: Session, rt: Runtime, request: Request, *, via: str, client_ip: str | None
) -> Download:
    """The ZIP, opened (so a damaged file fails before any byte is sent). Before release it is
    not found, exactly like a wrong access code; after ACCESS_PACKAGE_DAYS it is gone (410)."""
    package = package_of(session, request)
    attachment = (
        session.get(Attachment, package.attachment_id)
        if package is not None and package.attachment_id is not None
        else None
    )
    if package is None or attachment is None or request.purged_at is not None:
        # The caller holds the right code here, so saying why reveals nothing.
        raise NotFound("열람 자료가 아직 준비되지 않았습니다. 준비되면 알려 드립니다.")
    state = rules.package_state(package.released_at, package.expires_at, rt.clock())
    if state == "expired":
        raise PackageExpired(
            "열람 자료의 내려받기 기한이 지났습니다. 다시 받으시려면 정보보안팀에 문의해 주세요."
        )
    reader = rt.evidence.open(attachment.blob_key)
    now = rt.clock()
    assert package.id is not None and request.id is not None
    session.add(AccessDownload(package_id=package.id, via=via, at=now))
    session.add(
        AccessLog(
            staff_id=None,
            request_id=request.id,
            action=DOWNLOAD_ACTION,
            attachment_id=attachment.id,
            client_ip=client_ip,
            purpose=DOWNLOAD_PURPOSE,
            at=now,
        )
    )
    note(session, rt, request, "access_package_downloaded", actor="requester", via=via)
    session.flush()
    return Download(reader, attachment.size, f"{request.reference}-열람자료.zip", request.reference)


def offer(session: Session, rt: Runtime, request: Request) -> dict[str, object] | None:
    """What the web status page offers: the released package and until when (None before
    release, and for other requests)."""
    package = (
        package_of(session, request)
        if uses_package(request.type, request.transmission_to)
        else None
    )
    if package is None or package.released_at is None or package.expires_at is None:
        return None
    state = rules.package_state(package.released_at, package.expires_at, rt.clock())
    return {"expires_at": package.expires_at, "expired": state == "expired"}
