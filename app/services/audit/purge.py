"""The tracker's own retention: personal data of long-closed requests is destroyed.

RightsDesk holds personal data too (PIPA art. 21(1): destroy it once no longer needed). A
request closed longer than PURGE_AFTER_DAYS (3 years by default: the e-commerce act's period
for complaint records, the longest a dispute about the handling may need it) keeps only its
anonymous facts — type, service, channel, dates, status, outcome, the (personal-data-free)
timeline with its seals — for statistics and the register's counts. Evidence files are
deleted from the store. Access logs follow their own period (ACCESS_LOG_RETENTION_DAYS).

The proof of how the request was handled stays, encrypted, for PROOF_RETENTION_YEARS (10 by
default) after closing: the notice bodies as written (forms No. 9 and 10), the decision and
postponement reasons (the grounds are codes and stay with the anonymous facts). The controller
bears the burden of proof in a claim for damages (art. 39(1)), which lapses 10 years after the
act (Civil Act art. 766(2)). After that the proof goes too (`proof_purged_at`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from app.db import transaction
from app.models.channeltalk import ChatCandidate, ChatLink, ChatMessage
from app.models.clinic import ClinicForward
from app.models.decision import Decision, Postponement
from app.models.identity import Attachment, IdentityCheck, InfoRequest, Reply, Verification
from app.models.notice import Notice
from app.models.request import Delegation, IdempotencyRecord, Party, Request
from app.models.staff import AccessLog, InternalNote
from app.models.task import Task
from app.runtime import Runtime
from app.services.audit.timeline import note

log = logging.getLogger("rightsdesk.purge")

_BATCH = 200


def purge(rt: Runtime, *, dry_run: bool = False) -> dict[str, Any]:
    """Purge every due request (in batches, one transaction each) and old access logs."""
    result: dict[str, Any] = {
        "requests": 0,
        "files": 0,
        "proofs": 0,
        "access_logs": 0,
        "transmission_logs": 0,
        "dry_run": dry_run,
    }
    if rt.settings.purge_after_days:
        cutoff = rt.clock() - timedelta(days=rt.settings.purge_after_days)
        while True:
            with transaction(rt.engine) as session:
                due = session.exec(
                    select(Request)
                    .where(col(Request.closed_at) < cutoff, col(Request.purged_at).is_(None))
                    .order_by(col(Request.id))
                    .limit(_BATCH)
                ).all()
                if dry_run:
                    result["requests"] = _count_due(session, cutoff)
                    break
                blobs: list[str] = []
                for request in due:
                    blobs += purge_request(session, rt, request)
            for key in blobs:  # after the commit: a rollback must not lose files still referenced
                rt.evidence.delete(key)
            result["requests"] += len(due)
            result["files"] += len(blobs)
            if len(due) < _BATCH:
                break
    result["proofs"] = _old_proofs(rt, dry_run=dry_run)
    result["access_logs"] = _old_access_logs(rt, dry_run=dry_run)
    from app.services.transmission.log import purge_old as purge_old_transmissions

    result["transmission_logs"] = purge_old_transmissions(rt, dry_run=dry_run)
    if any(result[k] for k in ("requests", "proofs", "access_logs", "transmission_logs")):
        log.info("purge: %s", result)
    return result


def _count_due(session: Session, cutoff: Any) -> int:
    from sqlalchemy import func

    return int(
        session.exec(
            select(func.count())
            .select_from(Request)
            .where(col(Request.closed_at) < cutoff, col(Request.purged_at).is_(None))
        ).one()
    )


def purge_request(session: Session, rt: Runtime, request: Request) -> list[str]:
    """Remove one request's personal data; returns the evidence blobs to delete."""
    rid = request.id
    assert rid is not None
    session.execute(
        update(Party)
        .where(col(Party.request_id) == rid)
        .values(
            name_enc=None,
            birth_date_enc=None,
            email_enc=None,
            phone_enc=None,
            name_bidx=None,
            email_bidx=None,
            phone_bidx=None,
        )
    )
    for table in (
        Delegation,
        Verification,
        InfoRequest,
        Reply,
        InternalNote,
        IdempotencyRecord,
        ChatMessage,
    ):
        session.execute(delete(table).where(col(table.request_id) == rid))
    # The address goes; the notice as written stays as proof (module docstring).
    session.execute(
        update(Notice)
        .where(col(Notice.request_id) == rid)
        .values(recipient_enc=rt.vault.encrypt("", field="notice.recipient"))
    )
    _blank_columns(session, rt, rid)
    if not _keeps_proof(rt):
        purge_proof(session, rt, request)
    blobs = list(session.exec(select(Attachment.blob_key).where(Attachment.request_id == rid)))
    session.execute(
        update(Attachment).where(col(Attachment.request_id) == rid).values(filename_enc=None)
    )
    request.details_enc = request.correction_enc = request.transmission_enc = None
    request.purged_at = rt.clock()
    note(session, rt, request, "personal_data_purged", actor="retention", files=len(blobs))
    session.flush()
    return blobs


def _blank_columns(session: Session, rt: Runtime, rid: int) -> None:
    session.execute(
        update(Decision)
        .where(col(Decision.request_id) == rid)
        .values(changes_enc=None, approval_note_enc=None)
    )
    session.execute(
        update(IdentityCheck).where(col(IdentityCheck.request_id) == rid).values(note_enc=None)
    )
    session.execute(
        update(Task).where(col(Task.request_id) == rid).values(note_enc=None, reason_enc=None)
    )
    session.execute(
        update(ChatLink)
        .where(col(ChatLink.request_id) == rid)
        .values(member_id_enc=None, member_id_bidx=None)
    )
    session.execute(
        update(ChatCandidate)
        .where(col(ChatCandidate.request_id) == rid)
        .values(
            member_id_enc=None,
            user_enc=None,
            text_enc=rt.vault.encrypt("", field="chat_candidate.text"),
        )
    )


def _keeps_proof(rt: Runtime) -> bool:
    return rt.settings.proof_retention_years > 0


def _years_before(at: datetime, years: int) -> datetime:
    try:
        return at.replace(year=at.year - years)
    except ValueError:  # 29 February
        return at.replace(year=at.year - years, day=28)


def purge_proof(session: Session, rt: Runtime, request: Request) -> None:
    """Remove the proof kept past the purge: the notice texts, decision and postponement
    reasons. The anonymous facts and the timeline stay."""
    rid = request.id
    assert rid is not None
    session.execute(
        update(Notice)
        .where(col(Notice.request_id) == rid)
        .values(
            subject_enc=rt.vault.encrypt("", field="notice.subject"),
            body_enc=rt.vault.encrypt("", field="notice.body"),
            redacted_body_enc=None,
            full_body_enc=None,
        )
    )
    session.execute(
        update(Decision)
        .where(col(Decision.request_id) == rid)
        .values(reason_enc=None, ad_explanation_enc=None)
    )
    # Processor mode: a clinic's refusal reason is the proof of what the patient was told.
    session.execute(
        update(ClinicForward).where(col(ClinicForward.request_id) == rid).values(reason_enc=None)
    )
    session.execute(
        update(Postponement)
        .where(col(Postponement.request_id) == rid)
        .values(reason_enc=rt.vault.encrypt("", field="postponement.reason"))
    )
    request.proof_purged_at = rt.clock()
    note(session, rt, request, "proof_purged", actor="retention")
    session.flush()


def _old_proofs(rt: Runtime, *, dry_run: bool) -> int:
    """Requests purged before whose proof has outlived PROOF_RETENTION_YEARS after closing."""
    if not _keeps_proof(rt):
        return 0
    cutoff = _years_before(rt.clock(), rt.settings.proof_retention_years)
    due = (
        col(Request.purged_at).is_not(None),
        col(Request.proof_purged_at).is_(None),
        col(Request.closed_at) < cutoff,
    )
    done = 0
    while True:
        with transaction(rt.engine) as session:
            if dry_run:
                from sqlalchemy import func

                return int(
                    session.exec(select(func.count()).select_from(Request).where(*due)).one()
                )
            batch = session.exec(
                select(Request).where(*due).order_by(col(Request.id)).limit(_BATCH)
            ).all()
            for request in batch:
                purge_proof(session, rt, request)
        done += len(batch)
        if len(batch) < _BATCH:
            return done


def _old_access_logs(rt: Runtime, *, dry_run: bool) -> int:
    cutoff = rt.clock() - timedelta(days=rt.settings.access_log_retention_days)
    with transaction(rt.engine) as session:
        if dry_run:
            from sqlalchemy import func

            return int(
                session.exec(
                    select(func.count()).select_from(AccessLog).where(col(AccessLog.at) < cutoff)
                ).one()
            )
        result = session.execute(delete(AccessLog).where(col(AccessLog.at) < cutoff))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
