"""Closing a request under its decision: the result notice (forms No. 9 and 10).

Both decisions and tasks end here, so neither imports the other to close a request."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from app.models.decision import Decision
from app.models.request import Request
from app.models.vocab import GRANTING
from app.runtime import Runtime
from app.services.audit.timeline import move
from app.services.notices.queue import queue_notice
from app.services.notices.render import render_text
from app.workflows.deadlines import KST
from app.workflows.lifecycle import Outcome, Status
from app.workflows.notice_extras import (
    AccessResultExtra,
    ActionResultExtra,
    NoticeExtra,
    ObjectionResultExtra,
)
from app.workflows.notices import NoticeKind, date_text
from app.workflows.retention import BASIS_LABELS_KO, basis_reason, not_reached, statute_citation


def _parent(session: Session, request: Request) -> Request | None:
    return session.get(Request, request.parent_id) if request.parent_id else None


def latest_decision(session: Session, request: Request) -> Decision | None:
    return session.exec(
        select(Decision).where(Decision.request_id == request.id).order_by(col(Decision.id).desc())
    ).first()


def complete_request(
    session: Session,
    rt: Runtime,
    request: Request,
    *,
    actor: str,
    package_expires_at: datetime | None = None,
) -> None:
    """Close the request under its decision and send the result notice (form No. 9 / 10).
    `package_expires_at`: a released access package, downloadable until then."""
    decision = latest_decision(session, request)
    assert decision is not None
    move(
        session,
        rt,
        request,
        Status.COMPLETED,
        actor=actor,
        decision_id=decision.id,
        outcome=decision.outcome,
        grounds=decision.grounds,
    )
    if request.type == "transmission" and decision.outcome == Outcome.REFUSED:
        # Decree art. 42-6(11), 42-8(2): a refused transmission is in the log too.
        from app.services.transmission.log import record

        service = rt.policy.service(request.service)
        asked = list(request.items) or ([i.code for i in service.items] if service else [])
        record(session, rt, request, items=asked, result="refused")
    reopened = None
    if request.type == "objection" and decision.outcome == Outcome.GRANTED:
        from app.services.decisions.objections import reopen_after_objection

        reopened = reopen_after_objection(session, rt, request, actor).reference
    queue_result_notice(
        session,
        rt,
        request,
        decision,
        actor=actor,
        reopened=reopened,
        package_expires_at=package_expires_at,
    )


def queue_result_notice(
    session: Session,
    rt: Runtime,
    request: Request,
    decision: Decision,
    *,
    actor: str,
    reopened: str | None = None,
    package_expires_at: datetime | None = None,
) -> None:
    """The result notice of `decision`, once (an access visit's goes out at the grant)."""
    kind, extra = _result_notice(session, rt, request, decision, reopened, package_expires_at)
    queue_notice(
        session, rt, request, kind, extra=extra, actor=actor, dedupe=f"result:{decision.id}"
    )


def _result_notice(
    session: Session,
    rt: Runtime,
    request: Request,
    d: Decision,
    reopened: str | None,
    package_expires_at: datetime | None = None,
) -> tuple[NoticeKind, NoticeExtra]:
    v = rt.vault
    reason = v.decrypt_opt(d.reason_enc, field="decision.reason")
    if request.type == "objection":
        parent = _parent(session, request)
        return NoticeKind.OBJECTION_RESULT, ObjectionResultExtra(
            outcome=d.outcome,
            reason=reason,
            objected_reference=parent.reference if parent else None,
            reopened_reference=reopened,
        )
    # Giving: something is disclosed or done. Limiting: something is withheld on a ground
    # (rules 7, 8). `no_data_held` and `unchanged` are neither: their notice says why.
    giving = d.outcome in GRANTING
    limiting = d.outcome in (Outcome.PARTIALLY_GRANTED, Outcome.REFUSED)
    if request.type == "access":
        a = d.access if giving else None
        return NoticeKind.ACCESS_RESULT, AccessResultExtra(
            outcome=d.outcome,
            items_granted=d.items_granted if giving else [],
            method=a.method if a else None,
            available_at=a.available_at if a else None,
            place=a.place if a else None,
            fee_krw=(a.fee_krw if a else 0) if giving else None,
            postage_krw=(a.postage_krw if a else 0) if giving else None,
            grounds=d.grounds if limiting else [],
            reason=reason if d.outcome != Outcome.GRANTED else None,
            items_withheld=d.items_withheld if limiting else [],
            package_expires_at=package_expires_at if giving else None,
        )
    kept = [p for p in d.retention or [] if p.action == "keep"]
    holds = "\n".join(
        [f"{p.item_name}: {p.reason}" for p in kept] + _unreached_named(rt, request, d)
    )
    # Art. 21(1) proviso: the statute that makes us keep the data, with its provision.
    statutes = sorted({statute_citation(p.statute, p.article) for p in kept if p.statute})
    return NoticeKind.ACTION_RESULT, ActionResultExtra(
        outcome=d.outcome,
        action=_action_text(rt, request, d, package_expires_at) if giving else None,
        grounds=d.grounds if limiting else [],
        reason=(
            "\n".join(x for x in (reason, holds) if x) or None
            if limiting
            else reason
            if d.outcome != Outcome.GRANTED
            else None
        ),
        statute=", ".join(statutes) if limiting and statutes else None,
    )


def _action_text(
    rt: Runtime, request: Request, d: Decision, package_expires_at: datetime | None = None
) -> str:
    # A chat is no place for the corrected values: the chat hears which items were corrected,
    # by name, never what they now hold.
    chat = request.notify_by == "chat"
    correction = request.type == "correction"
    changes = (
        rt.vault.decrypt_opt(d.changes_enc, field="decision.changes") or ""
        if correction and not chat
        else ""
    )
    service = rt.policy.service(request.service)
    corrected = [
        item.name
        for code in (d.items_granted if correction and chat and service else [])
        if service and (item := service.item(code))
    ]
    deleted = [p.item_name for p in d.retention or [] if p.action == "delete"]
    # A partial grant names what was done: the notice never says "요구하신 대로" (all) then.
    partial = d.outcome == Outcome.PARTIALLY_GRANTED
    done = [_item_name(rt, request, i) for i in d.items_granted] if partial else []
    return render_text(
        "action_done",
        {
            "type_code": request.type,
            "changes": changes,
            "deleted": deleted,
            "corrected_items": corrected,
            "partial": partial,
            "done_items": done,
            "kept_by_basis": _kept_by_basis(rt, request),
            **_transmission_facts(rt, request, package_expires_at),
        },
    )


def _transmission_facts(
    rt: Runtime, request: Request, package_expires_at: datetime | None
) -> dict[str, object]:
    """Art. 35-2: to whom the data went; for the subject, until when the package downloads."""
    if request.type != "transmission":
        return {}
    from app.services.transmission.log import recipient_of

    recipient = recipient_of(rt, request)
    expires = package_expires_at.astimezone(KST).date() if package_expires_at else None
    return {
        "transmission_to": request.transmission_to,
        "recipient_name": recipient["name"] if recipient else None,
        "recipient_code": recipient["code"] if recipient else None,
        "package_expires_text": date_text(expires) if expires else None,
    }


def _unreached_named(rt: Runtime, request: Request, d: Decision) -> list[str]:
    """Art. 37(3), (4): the named items a withdrawal left, each with why (its legal basis)."""
    service = rt.policy.service(request.service)
    if request.type != "consent_withdrawal" or service is None:
        return []
    return [f"{i.name}: {basis_reason(i)}" for i in not_reached(d.items_withheld, service)]


def _kept_by_basis(rt: Runtime, request: Request) -> list[tuple[str, str, list[str]]]:
    """A withdrawal naming no items reached every consent-based item: the notice lists what it
    left, grouped by legal basis with the provision (label, article, item names)."""
    service = rt.policy.service(request.service)
    if request.type != "consent_withdrawal" or request.items or service is None:
        return []
    groups: dict[tuple[str, str], list[str]] = {}
    for item in not_reached([i.code for i in service.items], service):
        groups.setdefault((item.basis, item.basis_article), []).append(item.name)
    return [(BASIS_LABELS_KO[b], article, names) for (b, article), names in groups.items()]


def _item_name(rt: Runtime, request: Request, code: str) -> str:
    service = rt.policy.service(request.service)
    item = service.item(code) if service is not None else None
    return item.name if item is not None else code
