"""Processor mode: a request about data Carelabs holds for a clinic (PIPA art. 26(8)).

Pure. The clinic is the controller (개인정보처리자) and decides; Carelabs, its processor
(수탁자), forwards the request, tracks the clinic's deadline and carries out what the clinic
instructs. Patients' 진료기록 are opened and copied under 의료법 제21조, not PIPA art. 35.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from enum import StrEnum


class ClinicInstruction(StrEnum):
    CARRY_OUT = "carry_out"  # the clinic grants: Carelabs acts at every holder
    REFUSE = "refuse"  # the clinic refuses, with its reason (arts. 35(4), 36(1), 37(2))
    CLINIC_ANSWERS = "clinic_answers"  # the clinic deals with the patient itself


CLINIC_INSTRUCTION_LABELS_KO = {
    ClinicInstruction.CARRY_OUT: "요구대로 처리해 주세요",
    ClinicInstruction.REFUSE: "요구를 거절합니다(사유를 적어 주세요)",
    ClinicInstruction.CLINIC_ANSWERS: "병원이 직접 답변하겠습니다",
}

# The instruction as recorded (the confirmation page, after the clinic has answered).
CLINIC_INSTRUCTION_DONE_KO = {
    ClinicInstruction.CARRY_OUT: "요구대로 처리",
    ClinicInstruction.REFUSE: "거절",
    ClinicInstruction.CLINIC_ANSWERS: "병원이 직접 답변",
}

# The request types a processor can carry out at its holders on the clinic's instruction
# (access too: each holder sends an extract; art. 26(8) applies arts. 35-37 to the processor).
CARRIED_OUT_TYPES = frozenset(
    {"access", "correction", "deletion", "suspension", "consent_withdrawal"}
)

# Words that make a request one about medical records (진료기록, 의료법 제21조).
_MEDICAL = re.compile(r"진료\s*기록|의무\s*기록|진료\s*내역|차트|처방\s*전|진단\s*서|검사\s*결과")


def mentions_medical_records(details: str | None, item_names: Iterable[str] = ()) -> bool:
    """Whether the request asks about 진료기록: the patient is pointed to the clinic's
    의료법 제21조 procedure (the clinic, not Carelabs, opens and copies them)."""
    texts = [details or "", *item_names]
    return any(_MEDICAL.search(t) for t in texts)


def clinic_due_on(legal_due_on: date) -> date:
    """The clinic's deadline. UNVERIFIED reading (docs/decisions.md "Processor mode"): a
    request received by the processor counts as received by the controller, since art. 26(8)
    applies arts. 35-38 to the processor; so the clinic's period runs from our receipt and
    ends on the same day as the request's own deadline."""
    return legal_due_on


def check_instruction(instruction: str, reason: str | None) -> ClinicInstruction:
    """The clinic's instruction, or ValueError naming what is wrong (Korean, shown on the page)."""
    try:
        chosen = ClinicInstruction(instruction)
    except ValueError:
        raise ValueError("병원의 지시를 하나 골라 주세요.") from None
    if chosen is ClinicInstruction.REFUSE and not (reason or "").strip():
        raise ValueError("거절하는 경우 정보주체에게 알릴 거절 사유를 적어 주세요.")
    return chosen


def check_clinic_type(request_type: str) -> None:
    """Only a type Carelabs can carry out at its holders can be forwarded to a clinic: any
    other would wait for an instruction it could never act on. ValueError naming the allowed
    types (the caller turns it into a 422 on `controller`)."""
    if request_type not in CARRIED_OUT_TYPES:
        allowed = ", ".join(sorted(CARRIED_OUT_TYPES))
        raise ValueError(
            f"병원(개인정보처리자)에 전달할 수 있는 요청 유형이 아닙니다({request_type}). "
            f"병원에 전달할 수 있는 유형: {allowed}. 케어랩스가 직접 처리하는 정보라면 "
            "controller를 빼 주세요."
        )


def clinic_answer_overdue(today: date, due_on: date, answered: bool) -> bool:
    """The clinic said it answers the patient itself and has not confirmed it did by its
    deadline: staff see the request as overdue and follow it up."""
    return not answered and today > due_on


__all__ = [
    "CARRIED_OUT_TYPES",
    "CLINIC_INSTRUCTION_DONE_KO",
    "CLINIC_INSTRUCTION_LABELS_KO",
    "ClinicInstruction",
    "check_clinic_type",
    "check_instruction",
    "clinic_answer_overdue",
    "clinic_due_on",
    "mentions_medical_records",
]
