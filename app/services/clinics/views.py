"""What staff see of processor mode: the clinic, its deadline and its instruction."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, select

from app.models.clinic import ClinicForward
from app.models.request import Request
from app.runtime import Runtime
from app.workflows.processor import ClinicInstruction, clinic_answer_overdue


def clinic_columns(
    session: Session, request_ids: list[int | None], *, today: date
) -> dict[int, dict[str, object]]:
    """Request -> the queue's processor-mode columns: `controller` (the clinic's code),
    `clinic_due_on`, `clinic_instruction` (None until the clinic has said), `clinic_overdue`
    (the clinic answers the patient itself and has not confirmed it did by its deadline)."""
    ids = [i for i in request_ids if i is not None]
    if not ids:
        return {}
    rows = session.exec(select(ClinicForward).where(col(ClinicForward.request_id).in_(ids))).all()
    return {f.request_id: _columns(f, today) for f in rows}


def _awaiting_answer(f: ClinicForward) -> bool:
    return f.instruction == ClinicInstruction.CLINIC_ANSWERS and f.answered_at is None


def _columns(f: ClinicForward, today: date) -> dict[str, object]:
    return {
        "controller": f.clinic_code,
        "clinic_due_on": f.due_on,
        "clinic_instruction": f.instruction,
        "clinic_overdue": _awaiting_answer(f)
        and clinic_answer_overdue(today, f.due_on, answered=False),
    }


def clinic_view(session: Session, rt: Runtime, request: Request) -> dict[str, object] | None:
    """The detail's `clinic` block: who the controller is, how to reach it, when it was told,
    when it confirmed, what it instructed (a refusal with its reason)."""
    f = session.exec(select(ClinicForward).where(ClinicForward.request_id == request.id)).first()
    if f is None:
        return None
    due: date = f.due_on
    return {
        "code": f.clinic_code,
        "name": f.clinic_name,
        "email": f.clinic_email,
        "phone": f.clinic_phone,
        "due_on": due,
        "medical_records": f.medical_records,
        "forwarded_at": f.forwarded_at,
        "received_at": f.received_at,
        "instruction": f.instruction,
        "reason": rt.vault.decrypt_opt(f.reason_enc, field="clinic_forward.reason"),
        "instructed_at": f.instructed_at,
        "applied_at": f.applied_at,
        # clinic_answers: the request stays open until the clinic confirms it answered.
        "awaiting_answer": _awaiting_answer(f),
        "answered_at": f.answered_at,
    }
