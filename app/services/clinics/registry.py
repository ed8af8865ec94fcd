"""The clinics a request can name: the policy's `[[clinics]]` and the list staff keep.

The policy's clinics are fixed with the policy (changed by editing the file); the admin adds
and deactivates the others. A code is unique across both: the admin cannot add a code the
policy uses, so a request's `controller` always names one clinic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from app.errors import BusinessRuleViolation, Conflict, NotFound
from app.models.clinic import Clinic
from app.models.staff import Staff
from app.runtime import Runtime
from app.workflows.processor import CARRIED_OUT_TYPES, check_clinic_type


@dataclass(frozen=True)
class ClinicInfo:
    code: str
    name: str
    email: str
    phone: str | None
    services: tuple[str, ...]
    source: str  # policy | staff
    active: bool = True
    created_at: datetime | None = None
    deactivated_at: datetime | None = None


def _from_row(c: Clinic) -> ClinicInfo:
    return ClinicInfo(
        c.code,
        c.name,
        c.email,
        c.phone,
        tuple(c.services),
        "staff",
        c.active,
        c.created_at,
        c.deactivated_at,
    )


def list_clinics(
    session: Session, rt: Runtime, *, include_inactive: bool = False
) -> list[ClinicInfo]:
    """The policy's clinics first (file order), then the staff list by code."""
    from_policy = [
        ClinicInfo(c.code, c.name, c.email, c.phone, c.services, "policy")
        for c in rt.policy.clinics
    ]
    query = select(Clinic).order_by(col(Clinic.code))
    if not include_inactive:
        query = query.where(col(Clinic.active).is_(True))
    return from_policy + [_from_row(c) for c in session.exec(query)]


def resolve_controller(
    session: Session, rt: Runtime, controller: str | None, service: str, request_type: str
) -> ClinicInfo | None:
    """None for the policy's own controller (field absent, or the controller's own code is not
    a clinic); else the active clinic the request names, which must use the service."""
    if controller is None:
        return None
    clinics = [c for c in list_clinics(session, rt) if service in c.services]
    found = next((c for c in clinics if c.code == controller), None)
    if found is None:
        allowed = ", ".join(c.code for c in clinics) or "(이 서비스에 등록된 병원 없음)"
        raise BusinessRuleViolation(
            "unknown_controller",
            "controller",
            f"'{controller}'은(는) 이 서비스({service})의 병원 코드가 아닙니다. "
            f"허용되는 값: {allowed}. 케어랩스가 직접 처리하는 정보라면 controller를 빼 주세요.",
        )
    try:
        check_clinic_type(request_type)
    except ValueError as exc:
        raise BusinessRuleViolation(
            "type_not_forwardable",
            "controller",
            str(exc),
            allowed=sorted(CARRIED_OUT_TYPES),
            value=request_type,
        ) from None
    return found


def create_clinic(
    session: Session,
    rt: Runtime,
    admin: Staff,
    *,
    code: str,
    name: str,
    email: str,
    phone: str | None,
    services: list[str],
) -> ClinicInfo:
    known = rt.policy.service_codes()
    unknown = [s for s in services if s not in known]
    if unknown:
        raise BusinessRuleViolation(
            "unknown_service",
            "services",
            f"알 수 없는 서비스입니다: {', '.join(unknown)}. 허용되는 값: {', '.join(known)}.",
        )
    taken = (
        any(c.code == code for c in rt.policy.clinics)
        or session.exec(select(Clinic.id).where(Clinic.code == code)).first() is not None
    )
    if taken:
        raise Conflict(f"병원 코드 '{code}'은(는) 이미 쓰이고 있습니다.", code="clinic_exists")
    now = rt.clock()
    row = Clinic(
        code=code,
        name=name,
        email=email,
        phone=phone,
        services=list(dict.fromkeys(services)),
        created_by=admin.id,  # type: ignore[arg-type]
        created_at=now,
    )
    session.add(row)
    session.flush()
    return _from_row(row)


def deactivate_clinic(session: Session, rt: Runtime, code: str) -> ClinicInfo:
    """New requests can no longer name it; forwarded requests keep their copy of its contact."""
    if any(c.code == code for c in rt.policy.clinics):
        raise Conflict(
            f"'{code}'은(는) 처리방침 파일의 병원이라 파일을 고쳐야 합니다.",
            code="clinic_in_policy",
        )
    row = session.exec(select(Clinic).where(Clinic.code == code)).first()
    if row is None:
        raise NotFound()
    if row.active:
        row.active = False
        row.deactivated_at = rt.clock()
        session.add(row)
        session.flush()
    return _from_row(row)


def clinic_options(rt: Runtime, service: str) -> list[tuple[str, str]]:
    """(code, name) of the active clinics of a service, for the web form's choice. Read in a
    session of its own: the form's pages have no transaction."""
    with Session(rt.engine) as session:
        return [(c.code, c.name) for c in list_clinics(session, rt) if service in c.services]
