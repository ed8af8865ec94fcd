"""Notices to requesters: the context (app.workflows.notices) and the Korean templates.

Everything is rendered against the shipped policy, with synthetic people and facts, and checked
for what a reader (or a regulator) would look for in the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError

from app.policy import DEFAULT_POLICY_FILE, Policy, load_policy
from app.services.notices.render import RenderedNotice, _environment, josa, render_notice
from app.workflows.notices import NoticeFacts, NoticeKind, notice_context

REF = "DSR-20261215-7KQ2M9"
T0 = datetime(2026, 12, 15, 1, 0, tzinfo=UTC)  # Tue 2026-12-15 10:00 KST
DUE = date(2026, 12, 28)  # the contract's worked example (12-25 holiday, weekend)
OFFICE_EMAIL = "heegon.oh@carelabs.co.kr"
OFFICE_PHONE = "070-4895-0876"
ACCESS_CODE = "ZX9-SECRET-CODE"  # what filing returned; must never reach a notice

PARTIAL_REASON = "접속기록에 같은 계정을 쓰는 다른 직원의 접속 정보가 함께 들어 있습니다."
STATUTE = "「전자상거래 등에서의 소비자 보호에 관한 법률」 제6조(계약 등에 관한 기록: 5년)"

# A complete `extra` for each kind (and outcome), to render or to take keys away from.
CLINIC_TEL = "02-123-4567"  # a clinic's business line (processor mode)

EXTRA: dict[str, tuple[NoticeKind, str, dict[str, Any]]] = {
    "receipt": (NoticeKind.RECEIPT, "access", {"next_action": "verify_contact"}),
    "verification_code": (
        NoticeKind.VERIFICATION_CODE,
        "access",
        {"code": "482913", "valid_minutes": 10},
    ),
    "access_code": (NoticeKind.ACCESS_CODE, "access", {"new_code": "7K3Q-X9AB-M2PD"}),
    "info_request": (
        NoticeKind.INFO_REQUEST,
        "correction",
        {"message": "정정하실 전화번호를 알려 주세요.", "respond_by": date(2026, 12, 22)},
    ),
    "postponement": (
        NoticeKind.POSTPONEMENT,
        "access",
        {
            "reason": "보관 시스템 이전 작업으로 접속기록을 조회할 수 없습니다.",
            "expected_end": date(2026, 12, 23),
        },
    ),
    "access_granted": (
        NoticeKind.ACCESS_RESULT,
        "access",
        {
            "outcome": "granted",
            "items_granted": ["manager_name", "terminal_info"],
            "method": "electronic",
            "place": "요청 조회 화면에서 내려받기",
            "fee_krw": 0,
        },
    ),
    "access_partial": (
        NoticeKind.ACCESS_RESULT,
        "access",
        {
            "outcome": "partially_granted",
            "items_granted": ["manager_name", "manager_email"],
            "items_withheld": ["access_records"],
            "grounds": ["35-4-2"],
            "reason": PARTIAL_REASON,
            "method": "in_person",
            "available_at": datetime(2026, 12, 22, 5, 0, tzinfo=UTC),
            "place": "본사 3층 회의실",
            "fee_krw": 0,
        },
    ),
    "access_refused": (
        NoticeKind.ACCESS_RESULT,
        "access",
        {"outcome": "refused", "grounds": ["35-4-1"], "reason": "수사기관의 요청으로 제한됩니다."},
    ),
    "deletion_refused": (
        NoticeKind.ACTION_RESULT,
        "deletion",
        {
            "outcome": "refused",
            "grounds": ["36-1-proviso"],
            "reason": "결제 기록은 법령에 따라 5년간 보존해야 합니다.",
            "statute": STATUTE,
        },
    ),
    "suspension_granted": (
        NoticeKind.ACTION_RESULT,
        "suspension",
        {"outcome": "granted", "action": "12월 18일부터 서비스 개선 목적의 처리를 정지했습니다."},
    ),
    "access_no_data_held": (NoticeKind.ACCESS_RESULT, "access", {"outcome": "no_data_held"}),
    "deletion_no_data_held": (
        NoticeKind.ACTION_RESULT,
        "deletion",
        {"outcome": "no_data_held", "reason": "가입 기록에서 찾을 수 없었습니다."},
    ),
    "correction_unchanged": (
        NoticeKind.ACTION_RESULT,
        "correction",
        {"outcome": "unchanged", "reason": "제출하신 서류의 이름과 현재 정보가 같습니다."},
    ),
    "suspension_followup": (
        NoticeKind.SUSPENSION_FOLLOWUP,
        "suspension",
        {
            "destroyed": ["staff_mobile_phone"],
            "kept": ["manager_email"],
            "kept_reason": "요금 정산 분쟁이 진행 중이어서 정산이 끝날 때까지 보관합니다.",
        },
    ),
    "status_update": (
        NoticeKind.STATUS_UPDATE,
        "deletion",
        {"message": "본인 확인이 완료되어 담당자가 요청을 검토하고 있습니다."},
    ),
    "withdrawal": (
        NoticeKind.WITHDRAWAL,
        "access",
        {"withdrawn_at": datetime(2026, 12, 16, 3, 30, tzinfo=UTC)},
    ),
    "objection_result": (
        NoticeKind.OBJECTION_RESULT,
        "objection",
        {
            "outcome": "refused",
            "reason": "다른 직원의 접속기록이 섞여 있어 원래 결정을 유지합니다.",
            "objected_reference": "DSR-2612-PARENT01",
        },
    ),
    "identity_rejected": (
        NoticeKind.IDENTITY_REJECTED,
        "deletion",
        {"reason": "제출하신 위임장의 서명이 정보주체의 것인지 확인할 수 없었습니다."},
    ),
    "duplicate_closed": (
        NoticeKind.DUPLICATE_CLOSED,
        "deletion",
        {"continuing_reference": "DSR-2612-OLDER001"},
    ),
    "objection_receipt": (
        NoticeKind.OBJECTION_RECEIPT,
        "access",
        {"objection_reference": "DSR-20261224-OBJ1", "objection_due_on": date(2027, 1, 4)},
    ),
    # Processor mode (art. 26(8)): the clinic is the controller and decided.
    "clinic_carried_out": (
        NoticeKind.CLINIC_RESULT,
        "deletion",
        {"instruction": "carry_out", "clinic_name": "하늘피부과의원", "clinic_contact": CLINIC_TEL},
    ),
    "clinic_refused": (
        NoticeKind.CLINIC_RESULT,
        "deletion",
        {
            "instruction": "refuse",
            "clinic_name": "하늘피부과의원",
            "clinic_contact": CLINIC_TEL,
            "reason": "의료법에 따른 보존 기간 중입니다.",
        },
    ),
    "clinic_answers": (
        NoticeKind.CLINIC_RESULT,
        "access",
        {
            "instruction": "clinic_answers",
            "clinic_name": "바른의원",
            "clinic_contact": CLINIC_TEL,
            "clinic_due_on": date(2026, 12, 28),
        },
    ),
    "clinic_carried_out_access": (
        NoticeKind.CLINIC_RESULT,
        "access",
        {
            "instruction": "carry_out",
            "clinic_name": "하늘피부과의원",
            "clinic_contact": CLINIC_TEL,
            "items_done": ["생년월일", "단말기 정보"],
            "method": "electronic",
            "package_expires_at": datetime(2027, 1, 7, 15, 0, tzinfo=UTC),
        },
    ),
    "receipt_for_a_clinic": (
        NoticeKind.RECEIPT,
        "access",
        {
            "next_action": "verify_contact",
            "clinic_name": "하늘피부과의원",
            "clinic_contact": CLINIC_TEL,
            "medical_records": True,
        },
    ),
    # Art. 37-2 (Decree art. 44-3)
    "deadline_extension": (
        NoticeKind.DEADLINE_EXTENSION,
        "automated_decision_explanation",
        {
            "reason": "제한 기준을 정한 외부 보안 업체의 확인을 기다리고 있습니다.",
            "previous_due_on": date(2027, 1, 14),
            "new_due_on": date(2027, 2, 15),
            "number": 1,
        },
    ),
    "ad_explanation_granted": (
        NoticeKind.AUTOMATED_DECISION_RESULT,
        "automated_decision_explanation",
        {
            "outcome": "granted",
            "decision": "member_restriction",
            "result": "2026년 12월 1일부터 30일 동안 계정 이용이 제한되었습니다.",
            "criteria": "하루 로그인 실패가 50회를 넘으면 자동으로 제한합니다.",
            "data_types": ["abnormal_usage_records", "access_records"],
        },
    ),
    "ad_refusal_granted": (
        NoticeKind.AUTOMATED_DECISION_RESULT,
        "automated_decision_refusal",
        {
            "outcome": "granted",
            "decision": "member_restriction",
            "measure": "human_reprocessing",
            "result": "담당자가 접속 기록을 다시 확인하여 이용 제한을 해제하였습니다.",
        },
    ),
    "ad_review_granted": (
        NoticeKind.AUTOMATED_DECISION_RESULT,
        "automated_decision_review",
        {
            "outcome": "granted",
            "decision": "member_restriction",
            "result": "제출하신 의견을 검토한 결과 이용 제한을 해제하였습니다.",
        },
    ),
    "ad_refusal_refused": (
        NoticeKind.AUTOMATED_DECISION_RESULT,
        "automated_decision_refusal",
        {
            "outcome": "refused",
            "decision": "member_restriction",
            "grounds": ["art37-2-1-proviso"],
            "reason": "이 결정은 서비스 이용계약의 이행을 위하여 이루어집니다.",
        },
    ),
}


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(DEFAULT_POLICY_FILE)


def facts(request_type: str = "access", **extra: Any) -> NoticeFacts:
    return NoticeFacts(
        reference=REF,
        request_type=request_type,
        service_code="uno",
        received_at=T0,
        legal_due_on=DUE,
        recipient_name="김가상",
        extra=extra,
    )


def render(policy: Policy, case: str, *, lms: bool = False, **changes: Any) -> RenderedNotice:
    kind, request_type, extra = EXTRA[case]
    context = notice_context(kind, facts(request_type, **{**extra, **changes}), policy)
    return render_notice(kind, context, lms=lms)


# ---------------------------------------------------------------------------------------------
# Every kind


def test_every_kind_has_an_email_and_an_sms_template() -> None:
    names = set(_environment().list_templates())
    for kind in NoticeKind:
        assert {f"{kind}.txt.j2", f"{kind}.sms.j2"} <= names, kind
    assert {kind for kind, _, _ in EXTRA.values()} == set(NoticeKind)


@pytest.mark.parametrize("case", sorted(EXTRA))
def test_each_notice_names_its_reference_and_ends_with_the_controller_contact(
    policy: Policy, case: str
) -> None:
    notice = render(policy, case)
    assert REF in notice.subject and "\n" not in notice.subject
    # The sender is the legal person; its CRM division is the unit (pipa-law.md §9).
    assert notice.subject.startswith("[(주)케어랩스]")
    assert notice.body.strip() and not notice.body.startswith("\n")
    footer = notice.body.rstrip().splitlines()[-5:]
    assert footer == [
        "(주)케어랩스",
        "담당: CRM사업부",
        "문의: 정보보안팀",
        f"전자우편: {OFFICE_EMAIL}",
        f"전화: {OFFICE_PHONE}",
    ]
    assert REF in notice.sms or case == "verification_code"
    assert 0 < len(notice.sms) <= 300
    for text in (notice.subject, notice.body, notice.sms):
        assert ACCESS_CODE not in text
        assert "{{" not in text and "{%" not in text


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("access_no_data_held", "처리하고 있는 귀하의 개인정보가 없어"),
        ("deletion_no_data_held", "가입 기록에서 찾을 수 없었습니다."),
        ("correction_unchanged", "제출하신 서류의 이름과 현재 정보가 같습니다."),
    ],
)
def test_no_data_held_and_unchanged_say_why_and_how_to_object(
    policy: Policy, case: str, says: str
) -> None:
    notice = render(policy, case)
    assert says in notice.body and "이의제기 방법" in notice.body
    assert "모두" not in notice.body and "요구하신 대로" not in notice.body
    # The SMS only points to the whole text, which carries the objection method.
    assert "요청 조회" in notice.sms and says not in notice.sms


def test_unchanged_is_a_correction_outcome_only(policy: Policy) -> None:
    extra = {"outcome": "unchanged", "reason": "정확합니다."}
    with pytest.raises(ValueError, match="correction only"):
        notice_context(NoticeKind.ACTION_RESULT, facts("deletion", **extra), policy)
    with pytest.raises(ValueError, match="correction only"):
        notice_context(NoticeKind.ACCESS_RESULT, facts("access", **extra), policy)


# ---------------------------------------------------------------------------------------------
# SMS: a pointer to the whole text, never the text itself

STATUS_URL = "https://rights.example.com/status"


# A code message carries the code itself, not a pointer.
@pytest.mark.parametrize("case", sorted(set(EXTRA) - {"verification_code", "access_code"}))
def test_an_sms_only_says_a_notice_is_ready_and_where_to_read_it(policy: Policy, case: str) -> None:
    # With SMS_ALLOW_LMS: the longer text, with the link and the contact, sent as an LMS.
    notice = render(policy, case, lms=True, status_url=STATUS_URL)
    sms = notice.sms
    assert REF in sms and STATUS_URL in sms and "안내문이 준비되었습니다" in sms
    assert "요청 조회 화면" in sms and "확인코드" in sms
    assert f"문의: 정보보안팀 {OFFICE_PHONE}" in sms
    # Nothing personal and nothing of the outcome: no name, no service, no reason, no ground,
    # no item, no result word; the e-mail body carries all of that.
    for word in ("김가상", "우노", "열람", "거절", "사유", "제35조", "제36조", "근거", "유지"):
        assert word not in sms, word
    _, _, extra = EXTRA[case]
    for value in extra.values():
        if isinstance(value, str) and len(value) > 4:
            assert value not in sms, value
    assert len(sms) <= 300 and len(sms.encode("euc-kr")) <= 2000  # one LMS at most
    assert len(notice.body) > len(sms)  # the whole text is elsewhere, not cut short


def test_an_sms_for_a_request_filed_by_staff_names_the_code_staff_gave(policy: Policy) -> None:
    kind, request_type, extra = EXTRA["access_refused"]
    staff_filed = replace(facts(request_type, **extra), filed_by_staff=True)
    sms = render_notice(kind, notice_context(kind, staff_filed, policy), lms=True).sms
    assert "담당자가 알려 드린 확인코드" in sms
    assert "접수 때 표시된 확인코드" in render(policy, "access_refused", lms=True).sms


# ---------------------------------------------------------------------------------------------
# Receipt


def test_receipt_states_reference_received_time_in_kst_and_civil_act_deadline(
    policy: Policy,
) -> None:
    body = render(policy, "receipt").body
    assert REF in body
    assert "열람 / 우노" in body
    assert "2026년 12월 15일(화) 10:00 (한국 시간)" in body  # 01:00 UTC
    assert "01:00" not in body
    assert "2026년 12월 28일(월)까지" in body
    assert "「민법」" in body and "제157조" in body and "제161조" in body
    assert "개인정보 보호법 시행령 제41조제4항" in body and "10일 이내" in body


def test_receipt_converts_a_late_utc_instant_to_the_next_korean_day(policy: Policy) -> None:
    late = replace(
        facts(next_action="wait"), received_at=datetime(2026, 12, 15, 15, 30, tzinfo=UTC)
    )
    body = render_notice(NoticeKind.RECEIPT, notice_context(NoticeKind.RECEIPT, late, policy)).body
    assert "2026년 12월 16일(수) 00:30" in body
    assert "접수한 다음 날부터 세며" in body
    midnight = replace(late, received_at=datetime(2026, 12, 15, 15, 0, tzinfo=UTC))
    body = render_notice(
        NoticeKind.RECEIPT, notice_context(NoticeKind.RECEIPT, midnight, policy)
    ).body
    assert "0시에 접수되어 접수한 날부터" in body  # 민법 제157조 단서


def test_receipt_next_steps_depend_on_who_filed(policy: Policy) -> None:
    self_filed = render(policy, "receipt", next_action="verify_contact")
    agent = render(policy, "receipt", next_action="submit_power_of_attorney")
    assert "인증번호" in self_filed.body and "위임장" not in self_filed.body
    assert "위임장" in agent.body and "별지 제11호" in agent.body
    # The SMS only points to the receipt; the steps are read on the status page.
    assert self_filed.sms == agent.sms and "접수 안내문" in agent.sms


def test_receipt_explains_how_to_check_status_without_the_access_code(policy: Policy) -> None:
    notice = render(policy, "receipt", status_url="https://rights.example.com/status")
    assert "접수할 때 화면에 표시된 확인코드" in notice.body
    assert "https://rights.example.com/status" in notice.body
    with pytest.raises(ValueError, match="access_code"):
        notice_context(
            NoticeKind.RECEIPT, facts(next_action="wait", access_code=ACCESS_CODE), policy
        )


def test_consent_withdrawal_receipt_does_not_claim_a_statutory_ten_days(policy: Policy) -> None:
    body = render_notice(
        NoticeKind.RECEIPT,
        notice_context(NoticeKind.RECEIPT, facts("consent_withdrawal", next_action="wait"), policy),
    ).body
    assert "지체 없이" in body and "제37조제3항" in body
    assert "시행령 제41조" not in body and "시행령 제44조" not in body


def test_contacts_come_from_the_policy_file(policy: Policy, tmp_path: Path) -> None:
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    changed = (
        text.replace(OFFICE_EMAIL, "privacy-desk@example.com")
        .replace(OFFICE_PHONE, "02-0000-0000")
        .replace('department = "정보보안팀"', 'department = "고객정보보호팀"')
    )
    assert changed != text
    path = tmp_path / "policy.toml"
    path.write_text(changed, encoding="utf-8")
    other = load_policy(path)
    for case in ("receipt", "access_partial"):
        notice = render(other, case)
        assert "privacy-desk@example.com" in notice.body and "02-0000-0000" in notice.body
        assert "문의: 고객정보보호팀" in notice.body
        for old in (OFFICE_EMAIL, OFFICE_PHONE, "정보보안팀"):
            assert old not in notice.body and old not in notice.sms
    # The shipped policy still renders its own contact.
    assert OFFICE_EMAIL in render(policy, "receipt").body


# ---------------------------------------------------------------------------------------------
# Access results and postponement (form No. 9)


def test_partial_access_names_withheld_items_ground_reason_and_objection(policy: Policy) -> None:
    notice = render(policy, "access_partial")
    body = notice.body
    assert "일부열람 통지" in notice.subject
    assert body.startswith(
        "개인정보 일부열람 통지서\n(개인정보 처리 방법에 관한 고시 별지 제9호 서식)"
    )
    assert "김가상 님" in body
    granted, withheld = body.split("■ 열람을 제한한 개인정보")
    assert "- 담당자 이름" in granted and "- 담당자 이메일" in granted
    assert "- 접속기록" in withheld and "접속기록" not in granted
    # Decree art. 41(5): date, time and place of access.
    assert "방문 열람" in body and "2026년 12월 22일(화) 14:00" in body
    assert "본사 3층 회의실" in body and "수수료 없음" in body
    # Decree art. 41(5) brackets: reason and objection method; art. 35(4)2 in words.
    assert PARTIAL_REASON in withheld
    assert "개인정보 보호법 제35조제4항제2호" in withheld
    assert "다른 사람의 생명ㆍ신체를 해할 우려가 있거나" in withheld
    assert (
        "■ 이의제기 방법" in withheld and f"정보보안팀({OFFICE_EMAIL}, {OFFICE_PHONE})" in withheld
    )
    # Each outside body is offered for what it does: only the 분쟁조정위원회 mediates.
    assert "- 개인정보 분쟁조정위원회(1833-6972, www.kopico.go.kr): 분쟁조정 신청" in withheld
    assert "- 개인정보침해신고센터(118, privacy.kisa.or.kr): 개인정보 침해 신고·상담" in withheld
    assert "- 대검찰청(1301, www.spo.go.kr): 수사 의뢰(범죄 신고)" in withheld
    assert "시행령 제41조제5항·제42조제1항" in body


def test_refused_access_states_ground_reason_and_objection(policy: Policy) -> None:
    notice = render(policy, "access_refused")
    assert "열람거절 통지" in notice.subject
    assert notice.body.startswith("개인정보 열람거절 통지서\n")
    assert "- 요구하신 개인정보 전부" in notice.body
    assert "수사기관의 요청으로 제한됩니다." in notice.body
    assert "개인정보 보호법 제35조제4항제1호" in notice.body
    assert "법률에 따라 열람이 금지되거나 제한되는 경우" in notice.body
    assert "■ 이의제기 방법" in notice.body and "■ 열람할 개인정보" not in notice.body
    assert "처리 결과 안내문" in notice.sms and "거절" not in notice.sms


def test_granted_access_lists_the_data_and_the_fee(policy: Policy) -> None:
    free = render(policy, "access_granted").body
    assert free.startswith("개인정보 열람 통지서\n")
    assert "- 담당자 이름" in free and "- 단말기 정보(IP, user-agent)" in free
    assert "전자 문서로 제공" in free and "요청 조회 화면에서 내려받기" in free
    assert "수수료 없음" in free and "■ 이의제기 방법" not in free
    paid = render(policy, "access_granted", method="mail", place=None, fee_krw=5000).body
    assert "5,000원" in paid and "시행령 제47조" in paid and "수수료 없음" not in paid
    assert "우편으로 사본 발송" in paid and "지체 없이 발송합니다." in paid


def test_postponement_states_reason_resumption_and_objection(policy: Policy) -> None:
    notice = render(policy, "postponement")
    assert "열람연기 통지" in notice.subject
    assert notice.body.startswith(
        "개인정보 열람연기 통지서\n(개인정보 처리 방법에 관한 고시 별지 제9호"
    )
    assert "보관 시스템 이전 작업으로 접속기록을 조회할 수 없습니다." in notice.body
    assert "2026년 12월 23일(수)" in notice.body
    assert "지체 없이" in notice.body and "제35조제3항" in notice.body
    assert "■ 이의제기 방법" in notice.body
    with pytest.raises(ValueError, match="deletion"):
        notice_context(NoticeKind.POSTPONEMENT, facts("deletion", reason="x"), policy)


# ---------------------------------------------------------------------------------------------
# Correction / deletion / suspension / consent withdrawal results (form No. 10)


def test_deletion_refused_under_36_1_proviso_states_the_statute(policy: Policy) -> None:
    notice = render(policy, "deletion_refused")
    body = notice.body
    assert "삭제 요구 결과 통지" in notice.subject
    assert body.startswith("개인정보 정정ㆍ삭제 요구에 대한 결과 통지서\n")
    assert "별지 제10호 서식" in body
    assert "결제 기록은 법령에 따라 5년간 보존해야 합니다." in body
    assert "개인정보 보호법 제36조제1항 단서" in body
    assert STATUTE in body  # 표준지침 32②
    # Art. 21(1) proviso keeps the data; art. 21(3) stores it apart.
    assert "「개인정보 보호법」 제21조제1항 단서" in body and "같은 조 제3항" in body
    assert "■ 이의제기 방법" in body


def test_suspension_and_consent_withdrawal_results_state_what_was_done(policy: Policy) -> None:
    suspension = render(policy, "suspension_granted").body
    assert suspension.startswith("개인정보 처리정지 요구에 대한 결과 통지서\n")
    assert "12월 18일부터 서비스 개선 목적의 처리를 정지했습니다." in suspension
    assert "처리정지 조치를 마쳤습니다" in suspension and "■ 이의제기 방법" not in suspension
    withdrawal = render_notice(
        NoticeKind.ACTION_RESULT,
        notice_context(
            NoticeKind.ACTION_RESULT,
            facts("consent_withdrawal", outcome="refused", grounds=["37-2-1"], reason="법정 보존"),
            policy,
        ),
    ).body
    assert withdrawal.startswith("개인정보 처리 동의 철회 결과 안내\n")
    assert "별지" not in withdrawal  # no form is prescribed for consent withdrawal
    assert "개인정보 보호법 제37조제2항제1호" in withdrawal and "■ 이의제기 방법" in withdrawal


def test_transmission_receipt_and_refusal_cite_the_decree(policy: Policy) -> None:
    receipt = render_notice(
        NoticeKind.RECEIPT,
        notice_context(NoticeKind.RECEIPT, facts("transmission", next_action="wait"), policy),
    ).body
    assert "개인정보 전송 요구" in receipt
    assert "지체 없이" in receipt and "시행령 제42조의6제1항" in receipt
    refused = render_notice(
        NoticeKind.ACTION_RESULT,
        notice_context(
            NoticeKind.ACTION_RESULT,
            facts("transmission", outcome="refused", grounds=["42-8-1-1"], reason="본인 미확인"),
            policy,
        ),
    ).body
    assert refused.startswith("개인정보 전송 요구에 대한 결과 안내\n")
    assert "별지" not in refused  # no form is prescribed for transmission
    assert "개인정보 보호법 시행령 제42조의8제1항" in refused and "제42조의8제1항제" not in refused
    assert "본인 미확인" in refused and "■ 이의제기 방법" in refused
    # The Decree's grounds are our summaries: printed as such, never as a quotation.
    summary = "정보주체 본인이거나 정당한 대리인인지 확인되지 않는 경우"
    assert f"  (요지) {summary}" in refused and f'"{summary}' not in refused
    # A ground of another right is not a transmission's.
    with pytest.raises(ValueError, match="does not apply"):
        notice_context(
            NoticeKind.ACTION_RESULT,
            facts("transmission", outcome="refused", grounds=["35-4-1"], reason="x"),
            policy,
        )


# ---------------------------------------------------------------------------------------------
# Verification code, withdrawal, objection receipt


def test_verification_code_is_short_and_carries_nothing_personal(policy: Policy) -> None:
    notice = render(policy, "verification_code")
    assert "482913" in notice.sms and "10분" in notice.sms and "무시" in notice.sms
    assert len(notice.sms) <= 90
    assert len(notice.sms.encode("euc-kr")) <= 90  # one Korean SMS (90 bytes), not an LMS
    assert "482913" in notice.body and "10분" in notice.body and "무시" in notice.body
    assert "482913" not in notice.subject
    for text in (notice.body, notice.sms):
        assert "김가상" not in text and "우노" not in text and "열람" not in text


def test_withdrawal_confirms_when_the_request_was_cancelled(policy: Policy) -> None:
    notice = render(policy, "withdrawal")
    assert "2026년 12월 16일(수) 12:30" in notice.body
    assert "취소" in notice.subject and "직접 취소하지 않으셨다면" in notice.body


def test_objection_receipt_names_both_references_and_the_due_date(policy: Policy) -> None:
    notice = render(policy, "objection_receipt")
    assert "DSR-20261224-OBJ1" in notice.subject and REF in notice.subject
    assert "2027년 1월 4일(월)까지" in notice.body and "제38조제5항" in notice.body
    assert "이의제기를 접수할 때 화면에 표시된 확인코드" in notice.body


# ---------------------------------------------------------------------------------------------
# What the context refuses to build


@pytest.mark.parametrize(
    ("case", "key"),
    [
        ("receipt", "next_action"),
        ("verification_code", "code"),
        ("verification_code", "valid_minutes"),
        ("info_request", "message"),
        ("postponement", "reason"),
        ("access_partial", "outcome"),
        ("access_partial", "items_granted"),
        ("access_partial", "items_withheld"),
        ("access_partial", "grounds"),
        ("access_partial", "reason"),
        ("access_partial", "method"),
        ("access_partial", "available_at"),
        ("access_partial", "place"),
        ("access_partial", "fee_krw"),
        ("access_refused", "grounds"),
        ("access_refused", "reason"),
        ("deletion_refused", "statute"),
        ("deletion_refused", "reason"),
        ("suspension_granted", "action"),
        ("correction_unchanged", "reason"),
        ("withdrawal", "withdrawn_at"),
        ("objection_receipt", "objection_reference"),
        ("objection_receipt", "objection_due_on"),
    ],
)
def test_missing_extra_key_is_named(policy: Policy, case: str, key: str) -> None:
    kind, request_type, extra = EXTRA[case]
    notice_context(kind, facts(request_type, **extra), policy)  # complete: builds
    incomplete = {k: v for k, v in extra.items() if k != key}
    with pytest.raises(ValueError, match=rf"extra\['{key}'\]"):
        notice_context(kind, facts(request_type, **incomplete), policy)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"grounds": ["35-4-3-ga"]}, "public institutions only"),
        ({"grounds": ["37-2-1"]}, "does not apply to 'access'"),
        ({"grounds": ["no-such-ground"]}, "unknown ground"),
        ({"items_withheld": ["no_such_item"]}, "unknown item"),
        ({"outcome": "granted"}, "partially_granted"),
        ({"method": "fax"}, r"extra\['method'\]"),
        ({"fee_krw": -1}, r"extra\['fee_krw'\]"),
        ({"available_at": datetime(2026, 12, 22, 14, 0)}, "timezone-aware"),
    ],
)
def test_inconsistent_decisions_are_refused(
    policy: Policy, changes: dict[str, Any], message: str
) -> None:
    _, _, extra = EXTRA["access_partial"]
    with pytest.raises(ValueError, match=message):
        notice_context(NoticeKind.ACCESS_RESULT, facts(**{**extra, **changes}), policy)


def test_facts_need_an_aware_receipt_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(facts(), received_at=datetime(2026, 12, 15, 10, 0))


# ---------------------------------------------------------------------------------------------
# Rendering


def _receipt_context(policy: Policy) -> Mapping[str, Any]:
    return notice_context(NoticeKind.RECEIPT, facts(next_action="wait"), policy)


def test_a_template_name_missing_from_the_context_fails_loudly(policy: Policy) -> None:
    context = dict(_receipt_context(policy))
    render_notice(NoticeKind.RECEIPT, context)  # complete: renders
    del context["legal_due_text"]
    with pytest.raises(UndefinedError, match="legal_due_text"):
        render_notice(NoticeKind.RECEIPT, context)


def test_a_context_is_rendered_only_by_its_own_kind(policy: Policy) -> None:
    with pytest.raises(ValueError, match="receipt"):
        render_notice(NoticeKind.WITHDRAWAL, _receipt_context(policy))


@pytest.mark.parametrize(
    ("word", "pair", "expected"),
    [
        ("개인정보 열람 요구", "이/가", "개인정보 열람 요구가"),
        ("정보보안팀", "이/가", "정보보안팀이"),
        ("정보보안팀", "으로/로", "정보보안팀으로"),
        ("서울", "으로/로", "서울로"),
        ("스마트CRM", "을/를", "스마트CRM을"),  # 엠
        ("DSR-2612-0ZYSHKG2", "으로/로", "DSR-2612-0ZYSHKG2로"),  # 이
        ("DSR-2612-0ZYSHKG1", "으로/로", "DSR-2612-0ZYSHKG1로"),  # 일: ㄹ takes 로
        ("DSR-2612-0ZYSHKG3", "으로/로", "DSR-2612-0ZYSHKG3으로"),  # 삼
        ("scan.pdf", "은/는", "scan.pdf는"),  # 에프
        ("URL", "이/가", "URL이"),  # 엘
        ("(주)케어랩스", "이/가", "(주)케어랩스가"),
        ("…", "을/를", "…을(를)"),  # nothing read aloud: both
    ],
)
def test_josa_follows_the_last_syllable(word: str, pair: str, expected: str) -> None:
    assert josa(word, pair) == expected


def test_identity_rejection_says_why_and_how_to_file_again(policy: Policy) -> None:
    notice = render(policy, "identity_rejected")
    assert "위임장의 서명" in notice.body and "시행령 제46조제1항" in notice.body
    assert "다시 요청하실 수 있습니다" in notice.body and "이의제기 방법" in notice.body
    assert "위임장" not in notice.sms


def test_objection_result_names_the_request_objected_to(policy: Policy) -> None:
    notice = render(policy, "objection_result")
    assert "DSR-2612-PARENT01" in notice.body and "원래의 결정을 유지" in notice.body
    assert "다른 직원의 접속기록" in notice.body and "분쟁조정" in notice.body
    assert "유지" not in notice.sms and "이의제기 결과 안내문" in notice.sms


def test_whoever_filed_hears_back_on_the_channel_they_chose_if_they_have_it() -> None:
    from app.workflows.notices import pick_contact

    representative, subject = (True, True), (True, False)
    assert pick_contact([representative, subject], "sms") == (0, "sms")
    assert pick_contact([(True, False), subject], "sms") == (0, "email")  # no phone: e-mail
    assert pick_contact([(False, False), (False, True)], "email") == (1, "sms")
    assert pick_contact([(False, False)], "email") is None


# ---------------------------------------------------------------------------------------------
# Processor mode (art. 26(8)): the clinic is the controller


def test_a_clinics_receipt_names_the_clinic_as_controller_and_points_to_the_medical_act(
    policy: Policy,
) -> None:
    body = render(policy, "receipt_for_a_clinic").body
    assert "■ 개인정보처리자(병원)" in body and "하늘피부과의원이 개인정보처리자로서" in body
    assert "수탁자" in body and "제26조" in body and f"병원 연락처: {CLINIC_TEL}" in body
    assert "「의료법」 제21조" in body
    plain = render(policy, "receipt_for_a_clinic", medical_records=False).body
    assert "의료법" not in plain and "하늘피부과의원" in plain


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("clinic_carried_out", "하늘피부과의원의 결정에 따라 요구하신 대로 처리했습니다."),
        ("clinic_refused", "거절 사유: 의료법에 따른 보존 기간 중입니다."),
        ("clinic_answers", "바른의원이 이 요구에 직접 답변하기로 했습니다."),
    ],
)
def test_a_clinics_result_names_the_clinic_as_the_deciding_controller(
    policy: Policy, case: str, says: str
) -> None:
    notice = render(policy, case)
    assert says in notice.body and "결정한 곳" in notice.body and CLINIC_TEL in notice.body
    assert "요청 조회" in notice.sms and says not in notice.sms


def test_a_clinics_refusal_cannot_be_written_without_its_reason(policy: Policy) -> None:
    with pytest.raises(ValueError, match="reason"):
        render(policy, "clinic_refused", reason=None)


# ---------------------------------------------------------------------------------------------
# Art. 37-2 (Decree art. 44-3)


def test_an_explanation_carries_the_three_items_of_decree_44_3_2(policy: Policy) -> None:
    body = render(policy, "ad_explanation_granted").body
    assert "자동화된 결정 설명 요구" in body and "불량회원 이용 제한" in body
    assert "■ 결정의 결과\n2026년 12월 1일부터 30일 동안" in body
    assert "■ 결정의 주요 기준 및 절차\n하루 로그인 실패가 50회" in body
    assert "- 불량 혹은 비정상 이용기록 정보\n- 접속기록" in body
    assert "이의제기 방법" not in body  # nothing was refused


def test_an_automated_refusal_states_the_measure_or_the_proviso_and_the_objection(
    policy: Policy,
) -> None:
    granted = render(policy, "ad_refusal_granted").body
    assert "인적 개입에 의한 재처리" in granted
    assert "■ 다시 처리한 결과\n담당자가 접속 기록을 다시 확인하여" in granted
    with pytest.raises(ValueError, match="result"):  # art. 37-2(3): the outcome is told
        render(policy, "ad_refusal_granted", result=None)
    refused = render(policy, "ad_refusal_refused").body
    assert "개인정보 보호법 제37조의2제1항 단서" in refused
    assert "제15조제1항제1호ㆍ제2호 및 제4호" in refused
    assert "이의제기 방법" in refused and "서비스 이용계약의 이행" in refused


def test_a_refused_refusal_quotes_the_statute_or_labels_a_summary_and_offers_the_other_two(
    policy: Policy,
) -> None:
    proviso = render(policy, "ad_refusal_refused").body
    assert '  "자동화된 결정이 제15조제1항제1호ㆍ제2호 및 제4호에 따라' in proviso
    assert "(요지)" not in proviso
    # Explanation and review stay available after a refused refusal, and how to ask is said.
    assert "■ 설명·검토 요구" in proviso and "제37조의2제2항" in proviso
    assert "'자동화된 결정 설명' 또는 '자동화된 결정 검토'를 골라 신청" in proviso
    for grounds in (["art37-2-1"], ["art37-2-3"]):
        body = render(policy, "ad_refusal_refused", grounds=grounds).body
        line = next(x for x in body.splitlines() if x.startswith("  (요지) "))
        assert '"' not in line
    main_text = render(policy, "ad_refusal_refused", grounds=["art37-2-1"]).body
    assert "개인정보 보호법 제37조의2제1항 본문" in main_text
    # The paragraph belongs to a refused refusal only.
    other = notice_context(
        NoticeKind.AUTOMATED_DECISION_RESULT,
        facts(
            "automated_decision_explanation",
            **{**EXTRA["ad_refusal_refused"][2], "grounds": ["art37-2-3"]},
        ),
        policy,
    )
    assert "■ 설명·검토 요구" not in render_notice(NoticeKind.AUTOMATED_DECISION_RESULT, other).body


def test_a_review_result_says_the_views_were_considered(policy: Policy) -> None:
    body = render(policy, "ad_review_granted").body
    assert "제출하신 의견을 반영하여" in body and "■ 다시 검토한 결과" in body


def test_an_extension_notice_states_reason_both_deadlines_and_the_count(policy: Policy) -> None:
    body = render(policy, "deadline_extension").body
    assert "외부 보안 업체의 확인" in body
    assert "종전 기한: 2027년 1월 14일(목)" in body
    assert "연장한 기한: 2027년 2월 15일(월)" in body
    assert "30일씩 2번까지" in body and "이번이 첫 번째 연장입니다." in body
    assert "이번이 두 번째 연장입니다." in render(policy, "deadline_extension", number=2).body
    # The request is still open: there is no decision to object to yet (art. 38(5)); the
    # outside bodies are named.
    assert "이의제기" not in body
    assert "■ 외부 기관의 도움" in body and "개인정보 분쟁조정위원회" in body
    with pytest.raises(ValueError, match="does not apply"):
        _, _, extra = EXTRA["deadline_extension"]
        notice_context(NoticeKind.DEADLINE_EXTENSION, facts("access", **extra), policy)
