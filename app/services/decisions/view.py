"""The requester's view of a final decision."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from app.models.request import Request
from app.runtime import Runtime
from app.services.closing import latest_decision
from app.workflows.lifecycle import Outcome, Status


def decision_summary(session: Session, rt: Runtime, request: Request) -> dict[str, Any] | None:
    """The requester's view of a final decision: outcome, grounds in Korean, how to object."""
    from app.workflows.grounds import GROUNDS
    from app.workflows.remedies import objection_method

    d = latest_decision(session, request)
    if request.status != Status.COMPLETED or d is None:
        return None
    return {
        "outcome": d.outcome,
        "decided_at": d.decided_at,
        "grounds": [
            {
                "code": g,
                "article": GROUNDS[g].article,
                "text": GROUNDS[g].text_ko,
                "verbatim": GROUNDS[g].verbatim,
            }
            for g in d.grounds
        ],
        "reason": rt.vault.decrypt_opt(d.reason_enc, field="decision.reason"),
        "items_granted": d.items_granted,
        "items_withheld": d.items_withheld,
        "retention": [
            p.model_dump(
                mode="json", include={"item", "item_name", "action", "keep_until", "statute"}
            )
            for p in d.retention or []
        ],
        "objection_method": (objection_method(rt.policy) if d.outcome != Outcome.GRANTED else None),
    }
