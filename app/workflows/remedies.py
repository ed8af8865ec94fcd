"""How a person objects to a result and where else they can turn (PIPA art. 38(5); the
dispute mediation and reporting bodies of arts. 40 and 62, and the bodies that investigate):
the text every result notice, the catalog and the requester's view give."""

from __future__ import annotations

from app.policy import Contact, Policy


def _reach(contact: Contact) -> str:
    who = contact.department or contact.role
    means = ", ".join(x for x in (contact.email, contact.phone) if x)
    return f"{who}({means})"


def objection_method(policy: Policy, *, include_remedies: bool = True, chat: bool = False) -> str:
    """How to object (PIPA art. 38(5)), in Korean, with the policy's contact; notices list the
    outside bodies separately, so they ask for it without them. A request filed in a chat has
    no access code, so its notices leave the status page out."""
    contact = policy.contact(policy.rights.objection_contact)
    assert contact is not None  # Policy validation guarantees the reference
    web = "" if chat else "요청 조회 화면(접수번호와 확인코드로 조회)에서 이의제기를 신청하거나, "
    text = (
        "열람등요구에 대한 일부 열람, 열람 연기·거절, 정정·삭제·처리정지의 거절이나 일부 "
        "조치, 정정하지 않음, 보유 개인정보 없음, 본인 확인 불가 등의 결과에 이의가 "
        f"있으면 결과 통지를 받은 뒤 {web}{_reach(contact)}에 접수번호와 이의 사유를 적어 "
        "전자우편 등으로 제출하실 수 있습니다. 이의제기는 별도의 요청으로 접수되어 검토 후 그 "
        "결과를 알려 드립니다."
    )
    remedies = policy.controller.remedies
    if remedies and include_remedies:
        offers = ", ".join(_offers(policy))
        text += f" 이와 별도로 외부 기관의 도움을 받으실 수 있습니다: {offers}."
    return text


# What each kind of outside body does for the subject, so no notice offers mediation where
# there is none: art. 40 (the 분쟁조정위원회 mediates), art. 62 (the 침해신고센터 takes reports
# and counsels), and the prosecution and police take criminal complaints (arts. 70-75).
REMEDY_OFFERS: dict[str, str] = {
    "mediation": "분쟁조정 신청",
    "report": "개인정보 침해 신고·상담",
    "investigation": "수사 의뢰(범죄 신고)",
}


def remedy_lines(policy: Policy) -> list[dict[str, str]]:
    """The outside bodies as a notice lists them: name, phone, site and what each offers."""
    return [
        {"name": r.name, "phone": r.phone, "site": r.site, "offer": REMEDY_OFFERS[r.kind]}
        for r in policy.controller.remedies
    ]


def _offers(policy: Policy) -> list[str]:
    """One part per kind, in order: "개인정보 분쟁조정위원회(1833-6972) 분쟁조정 신청"."""
    parts: list[str] = []
    for kind, offer in REMEDY_OFFERS.items():
        bodies = [r for r in policy.controller.remedies if r.kind == kind]
        if bodies:
            names = "·".join(f"{r.name}({r.phone})" for r in bodies)
            parts.append(f"{names} {offer}")
    return parts
