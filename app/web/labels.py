"""Korean words for the codes the requester sees on the status page."""

from __future__ import annotations

from datetime import date, datetime

from app.models.vocab import TYPE_LABELS_KO
from app.workflows.access_package import SCOPE_LABELS_KO
from app.workflows.notices import date_text, kst_datetime_text

STATUS_KO: dict[str, str] = {
    "identity_pending": "본인 확인 중",
    "awaiting_requester": "보완 요청 중",
    "in_review": "검토 중",
    "postponed": "열람 연기",
    "awaiting_approval": "검토 중(결재 대기)",
    "executing": "처리 중",
    "completed": "처리 완료",
    "rejected": "반려",
    "withdrawn": "취소됨",
}

# The notices' own words (일부열람 통지, "일부만 하였습니다"), not the court's "일부 인용".
OUTCOME_KO: dict[str, str] = {
    "granted": "요구대로 처리",
    "partially_granted": "일부 조치",
    "refused": "거절",
    "no_data_held": "보유한 개인정보 없음",
    "unchanged": "확인 결과 정확하여 정정하지 않음",
}

# An access request's outcomes in the words of the access notices (forms No. 9 and 10).
ACCESS_OUTCOME_KO: dict[str, str] = {
    "granted": "열람 허용",
    "partially_granted": "일부 열람",
    "refused": "열람 거절",
}


def outcome_ko(outcome: str | None, request_type: str) -> str:
    """The outcome as the notice for this kind of request words it."""
    if outcome is None:
        return ""
    if request_type == "access" and outcome in ACCESS_OUTCOME_KO:
        return ACCESS_OUTCOME_KO[outcome]
    return OUTCOME_KO.get(outcome, outcome)


NEXT_ACTION_KO: dict[str, str] = {
    "verify_contact": "입력하신 연락처로 보내 드린 인증번호를 아래에 입력해 주세요.",
    "submit_identity_document": "신청하신 분의 신분증 사본을 아래에서 제출해 주세요.",
    "submit_proof_of_representation": (
        "법정대리인임을 확인할 수 있는 서류(가족관계증명서 등)를 아래에서 제출해 주세요."
    ),
    "submit_power_of_attorney": (
        "정보주체가 서명한 위임장(별지 제11호 서식)을 아래에서 제출해 주세요."
    ),
    "provide_information": "보완 요청 사항을 확인하고 필요한 서류나 내용을 제출해 주세요.",
    "wait": "담당자가 검토하고 있습니다. 따로 하실 일은 없으며, 결과는 통지로 알려 드립니다.",
    "none": "더 하실 일은 없습니다.",
}

NOTICE_KO: dict[str, str] = {
    "receipt": "접수 안내",
    "verification_code": "본인 확인 인증번호",
    "access_code": "새 확인코드",
    "info_request": "보완 요청",
    "postponement": "열람 연기 통지",
    "access_result": "열람 결과 통지",
    "action_result": "처리 결과 통지",
    "withdrawal": "요청 취소 확인",
    "objection_receipt": "이의제기 접수 안내",
    "identity_rejected": "본인 확인 불가 안내",
    "duplicate_closed": "중복 요청 종결 안내",
    "objection_result": "이의제기 결과 통지",
    "status_update": "진행 안내",
    "suspension_followup": "처리정지 후속 조치 결과 통지",
    "deadline_extension": "처리기간 연장 안내",
    "automated_decision_result": "자동화된 결정 요구 결과 통지",
}

# How a notice on the status page went out, and where its delivery stands.
NOTICE_CHANNEL_KO: dict[str, str] = {"email": "전자우편", "sms": "문자", "chat": "채널톡 채팅"}
NOTICE_STATUS_KO: dict[str, str] = {
    "pending": "발송 대기",
    "delivered": "발송 완료",
    "failed": "발송 실패(이 화면에서 전문을 보실 수 있습니다)",
}

RELATIONSHIP_KO: dict[str, str] = {
    "self": "본인",
    "legal_representative": "법정대리인",
    "delegate": "대리인(위임받은 사람)",
}

SCOPE_KO: dict[str, str] = {
    "access": "열람",
    "correction_deletion": "정정·삭제",
    "suspension": "처리정지",
    "consent_withdrawal": "동의 철회",
    "automated_decision": "자동화된 결정 거부·설명·검토",
    "transmission": "전송",
}

# Transmission (art. 35-2(1), (2)): to the subject, or to an institution the subject names.
TRANSMISSION_TO_KO: dict[str, str] = {
    "self": "본인에게 (파일로 내려받기)",
    "third_party": "다른 기관에 (아래에 기관을 적어 주세요)",
}

# What an access request asks to see (Decree art. 41(1) 1-5), in the decree's order.
ACCESS_SCOPE_KO: dict[str, str] = {s.value: text for s, text in SCOPE_LABELS_KO.items()}

ATTACHMENT_KIND_KO: dict[str, str] = {
    "identity_document": "신분증 사본",
    "power_of_attorney": "위임장(별지 제11호 서식)",
    "proof_of_representation": "법정대리인 확인 서류(가족관계증명서 등)",
    "correction_evidence": "정정 증빙 자료",
    "other": "기타",
}

NOTIFY_KO: dict[str, str] = {"email": "이메일", "sms": "문자(SMS)"}
DELIVERY_KO: dict[str, str] = {
    "electronic": "전자적 방법",
    "mail": "우편",
    "in_person": "방문 수령",
}


def label(table: dict[str, str], code: str | None) -> str:
    if code is None:
        return ""
    return table.get(code, code)


def type_ko(code: str) -> str:
    return TYPE_LABELS_KO.get(code, code)


def day_ko(d: date | str) -> str:
    return date_text(date.fromisoformat(d) if isinstance(d, str) else d)


def when_ko(at: datetime | None) -> str:
    return kst_datetime_text(at) if at is not None else "발송 대기"
