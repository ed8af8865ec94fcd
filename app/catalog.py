"""The public catalog (GET /v1/catalog): the facts of the privacy policy in force.

A pure function of the policy; the legal periods and grounds come from app.workflows.
"""

from __future__ import annotations

from typing import Any

from app.policy import Contact, DataItem, Policy, RetentionRule
from app.workflows.automated import basis_article_text, refusal_barred
from app.workflows.deadlines import period_for
from app.workflows.grounds import GROUNDS
from app.workflows.remedies import objection_method
from app.workflows.retention import BASIS_LABELS_KO, statute_citation

_CATEGORY_KO = {"required": "필수항목", "optional": "선택항목", "auto": "자동수집"}


def build_catalog(policy: Policy) -> dict[str, Any]:
    controller = policy.controller
    offered = {t.code for t in policy.rights.request_types}
    rules = {r.code: r for r in policy.retention_rules}
    return {
        "controller": {
            "name": controller.name,
            "unit": controller.unit,
            "public_institution": controller.public_institution,
            # Art. 35-2, Decree art. 42-2: since when the controller takes transmission
            # requests (null: it does not; file an access request instead).
            "transmission_from": (
                controller.transmission_from.isoformat() if controller.transmission_from else None
            ),
        },
        "policy_effective_date": controller.policy_effective_date.isoformat(),
        "request_types": [
            {"code": t.code.value, "label": t.label, "period_days": period_for(t.code)}
            for t in policy.rights.request_types
        ],
        "request_channels": list(policy.rights.channels),
        "request_channels_text": channels_text(policy),
        "services": [
            {
                "code": s.code,
                "name": s.name,
                "contexts": [{"code": c.code, "name": c.name} for c in s.contexts],
                "items": [_item(i, rules) for i in s.items],
            }
            for s in policy.services
        ],
        "purposes": [
            {"code": p.code, "name": p.name, "description": p.description} for p in policy.purposes
        ],
        "retention_rules": [_rule(r) for r in policy.retention_rules],
        "processors": [
            {"name": p.name, "task": p.task, "retention": p.retention} for p in policy.processors
        ],
        "third_party_provision": {
            "recipients": [r.model_dump() for r in policy.third_party_provision.recipients],
            "note": policy.third_party_provision.note,
        },
        "contacts": {
            "privacy_officer": _contact(controller.privacy_officer),
            "departments": [_contact(d) for d in controller.departments],
        },
        "remedies": [r.model_dump() for r in controller.remedies],
        "grounds": [
            {
                "code": g.code,
                "article": g.article,
                "text": g.text_ko,
                "applies_to": sorted(t.value for t in g.applies_to & offered),
                "requires_no_termination": g.requires_no_termination,
                # False: the text is a summary of the provision, not its words.
                "verbatim": g.verbatim,
            }
            for g in GROUNDS.values()
            if g.applies_to & offered and (controller.public_institution or not g.public_only)
        ],
        "objection_method": objection_method(policy),
        # Art. 37-2, Decree art. 44-4: the automated decisions, their criteria and procedure.
        "automated_decisions": automated_decisions(policy),
    }


def automated_decisions(policy: Policy) -> list[dict[str, Any]]:
    """Each automated decision as published: what it decides, with which data (codes and
    names), its criteria, whether it can be refused (art. 37-2(1) and its proviso) and
    whether an AI system makes it (named expressly from 2027-03-09)."""
    out = []
    for d in policy.automated_decisions:
        names: dict[str, str] = {}
        for code in d.services:
            service = policy.service(code)
            for item in service.items if service else ():
                if item.code in d.items:
                    names.setdefault(item.code, item.name)
        out.append(
            {
                **d.model_dump(mode="json"),
                "item_names": [names[i] for i in d.items if i in names],
                "legal_basis_text": [basis_article_text(b) for b in d.legal_basis],
                "refusable": d.refusable and not refusal_barred(d),
            }
        )
    return out


def _item(item: DataItem, rules: dict[str, RetentionRule]) -> dict[str, Any]:
    return {
        "code": item.code,
        "name": item.name,
        "components": list(item.components),
        "category": item.category,
        "category_label": _CATEGORY_KO[item.category],
        "context": item.context,
        "purposes": list(item.purposes),
        # Art. 15(1): what the item rests on; a consent withdrawal reaches only "consent".
        "basis": item.basis,
        "basis_label": BASIS_LABELS_KO[item.basis],
        "basis_article": item.basis_article,
        "retention": list(item.retention),
        "retention_text": "; ".join(_retention_text(rules[code]) for code in item.retention),
    }


def _retention_text(rule: RetentionRule) -> str:
    source = f"{statute_citation(rule.statute, rule.article)}에 따른 " if rule.statute else ""
    text = f"{source}{rule.name}: {rule.period}"
    if rule.exceptions:
        text += f" (다만 {'; '.join(e.text for e in rule.exceptions)})"
    return text


def _rule(rule: RetentionRule) -> dict[str, Any]:
    return {
        "code": rule.code,
        "name": rule.name,
        "period": rule.period,
        "until": rule.until,
        "months": rule.duration_months,
        "counted_from": rule.counted_from,
        "statute": rule.statute,
        "article": rule.article,
        "statutory": rule.statutory,
        "text": _retention_text(rule),
        "exceptions": [{"code": e.code, "text": e.text} for e in rule.exceptions],
    }


def _contact(contact: Contact) -> dict[str, Any]:
    return contact.model_dump(exclude_none=True)


def channels_text(policy: Policy) -> str:
    """The policy's sentence on how rights are exercised (seed §7②), naming every published
    channel: Decree art. 41(2) asks for ways at least as easy as those used to collect."""
    listed = ", ".join(policy.rights.channels)
    return (
        "권리 행사는 「개인정보 보호법」 시행령 제41조에 따라 "
        f"{listed} 등을 통하여 하실 수 있으며, 회사는 이에 대해 지체 없이 조치하겠습니다."
    )
