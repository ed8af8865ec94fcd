"""Closing a request under its decision: the result notice (forms No. 9 and 10).

Both decisions and tasks end here, so neither imports the other to close a request."""

from __future__ import annotations

import json
from datetime import datetime

from sqlmodel import Session, col, select

from app.models.decision import Decision
from app.models.request import Request
from app.models.vocab import AUTOMATED_DECISION_TYPES, GRANTING
from app.runtime import Runtime
from app.services.audit.timeline import move
from app.services.notices.queue import queue_notice
from app.services.notices.render import render_text
from app.workflows.deadlines import KST
from app.workflows.lifecycle import Outcome, Status
from app.workflows.notice_extras import (
    AccessResultExtra,
    ActionResultExtra,
    AutomatedDecisionResultExtra,
    NoticeExtra,
    ObjectionResultExtra,
)
from app.workflows.notices import NoticeKind, date_text
from app.workflows.pseudonymized import excluded_holders, excluded_items
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
    # Processor mode (art. 26(8)): the clinic decided, and the notice names it.
    from app.services.clinics.apply import queue_clinic_result

    if queue_clinic_result(
        session,
        rt,
        request,
        dedupe=f"result:{decision.id}",
        decision=decision,
        package_expires_at=package_expires_at,
    ):
        return
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
    if request.type in AUTOMATED_DECISION_TYPES:
        return NoticeKind.AUTOMATED_DECISION_RESULT, _automated_extra(rt, request, d, reason)
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
            **_pseudonymized(rt, request),
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
        **_pseudonymized(rt, request),
    )


def _pseudonymized(rt: Runtime, request: Request) -> dict[str, list[str]]:
    """Art. 28-7: the pseudonymized items and holders of what was asked, which the notice
    names as left out (a correction naming no item asks about the item it corrects)."""
    service = rt.policy.service(request.service)
    if service is None:
        return {"pseudonymized": [], "pseudonymized_holders": []}
    named = list(request.items)
    if not named and request.type == "correction" and request.correction_enc:
        fields = json.loads(rt.vault.decrypt(request.correction_enc, field="request.correction"))
        named = [fields["item"]] if service.item(fields.get("item") or "") else []
    return {
        "pseudonymized": excluded_items(request.type, named, service),
        "pseudonymized_holders": excluded_holders(request.type, named, service),
    }


def _automated_extra(
    rt: Runtime, request: Request, d: Decision, reason: str | None
) -> AutomatedDecisionResultExtra:
    """Art. 37-2: the measure, the explanation (Decree art. 44-3(2)) or the reconsidered
    result as staff wrote it, or the ground and reason of a refusal."""
    raw = rt.vault.decrypt_opt(d.ad_explanation_enc, field="decision.ad_explanation")
    x = json.loads(raw) if raw else {}
    code = request.automated_decision
    return AutomatedDecisionResultExtra(
        outcome=d.outcome,
        decision=code if code and code != "unknown" else None,
        measure=d.ad_measure,
        result=x.get("result"),
        criteria=x.get("criteria"),
        data_types=x.get("data_types") or [],
        grounds=d.grounds if d.outcome == Outcome.REFUSED else [],
        reason=reason if d.outcome != Outcome.GRANTED else None,
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
