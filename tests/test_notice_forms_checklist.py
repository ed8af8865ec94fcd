"""Forms No. 9 and 10 as a checklist: every result notice, for every outcome, against what the
form requires (개인정보 처리 방법에 관한 고시 art. 3(4), (5); pipa-law.md §2's table and §3).

Read it as a reviewer would: each case lists the boxes of its form and the text that fills
each box; `MUST_NOT` lists what the notice may not say. The cases are rendered with the
shipped policy and synthetic people.

Form No. 9, 개인정보 (열람, 일부열람, 열람연기, 열람거절) 통지서 (Decree 41(5), 42(2)):
  수신자 · 요구 내용 · 열람할 개인정보 · 열람 일시/장소/방법 · 수수료와 우송료 (art. 38(3),
  shown apart) · 사유 (partial, postponed, refused) · 이의제기 방법 (art. 38(5)) · 통지일 ·
  발신 명의 (the legal person, pipa-law.md §9).
Form No. 10, 개인정보 (정정ㆍ삭제, 처리정지) 요구에 대한 결과 통지서 (Decree 43(3), 44(2)):
  수신자 · 요구 내용 · 처리 결과 (조치 내용) · 사유 and, on art. 36(1) 단서, the statute ·
  이의제기 방법 · 통지일 · 발신 명의.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest

from app.policy import DEFAULT_POLICY_FILE, Policy, load_policy
from app.services.notices.render import render_notice
from app.workflows.notices import NoticeFacts, NoticeKind, notice_context
from app.workflows.remedies import objection_method

WRITTEN_ON = date(2026, 12, 18)
STATUTE = "「전자상거래 등에서의 소비자 보호에 관한 법률」 제6조(계약 등에 관한 기록: 5년)"
REASON = "다른 직원의 접속기록이 함께 들어 있습니다."

# Boxes every form has.
RECIPIENT = ("수신자", "김가상 님")
REFERENCE = ("접수번호", "DSR-2612-CHECK001")
NOTICE_DATE = ("통지일", "2026년 12월 18일(금)")
SENDER = ("발신 명의: 법인", "\n(주)케어랩스\n")
UNIT = ("발신 명의: 담당 단위", "담당: CRM사업부")
OBJECTION = ("이의제기 방법", "■ 이의제기 방법")
MEDIATION = ("분쟁조정 기관", "개인정보 분쟁조정위원회(1833-6972, www.kopico.go.kr): 분쟁조정 신청")
NO_MEDIATION_ELSEWHERE = "수사 의뢰(범죄 신고)"

FORM_9 = ("별지 제9호", "(개인정보 처리 방법에 관한 고시 별지 제9호 서식)")
FORM_10 = ("별지 제10호", "(개인정보 처리 방법에 관한 고시 별지 제10호 서식)")
EVERY_FORM = [RECIPIENT, REFERENCE, NOTICE_DATE, SENDER, UNIT]


@dataclass(frozen=True)
class Case:
    kind: NoticeKind
    request_type: str
    extra: dict[str, Any]
    boxes: list[tuple[str, str]]
    must_not: list[str] = field(default_factory=list)


ACCESS_GRANT = {"items_granted": ["manager_name", "terminal_info"], "fee_krw": 0}

CASES: dict[str, Case] = {
    # --- form No. 9 --------------------------------------------------------------------------
    "열람 (전자 제공)": Case(
        NoticeKind.ACCESS_RESULT,
        "access",
        {"outcome": "granted", **ACCESS_GRANT, "method": "electronic", "place": "요청 조회 화면"},
        [
            FORM_9,
            ("통지서 제목", "개인정보 열람 통지서"),
            ("열람할 개인정보", "- 담당자 이름"),
            ("열람 방법", "전자 문서로 제공"),
            ("열람 일시", "■ 열람 일시"),
            ("열람 장소", "요청 조회 화면"),
            ("수수료", "수수료 없음"),
        ],
        must_not=["■ 이의제기 방법", "우송료"],  # nothing refused; no copy mailed
    ),
    "열람 (우편 사본)": Case(
        NoticeKind.ACCESS_RESULT,
        "access",
        {
            **ACCESS_GRANT,
            "outcome": "granted",
            "method": "mail",
            "fee_krw": 1000,
            "postage_krw": 3000,
        },
        [
            FORM_9,
            ("열람 방법", "우편으로 사본 발송"),
            ("발송 일시", "■ 발송 예정 일시"),
            ("수수료 (따로)", "수수료: 1,000원"),
            ("우송료 (따로, 38조3항)", "우송료: 3,000원"),
        ],
        must_not=["4,000원", "■ 이의제기 방법"],  # never one sum
    ),
    "일부열람": Case(
        NoticeKind.ACCESS_RESULT,
        "access",
        {
            "outcome": "partially_granted",
            "items_granted": ["manager_name"],
            "items_withheld": ["access_records"],
            "grounds": ["35-4-2"],
            "reason": REASON,
            "method": "in_person",
            "available_at": datetime(2026, 12, 22, 5, 0, tzinfo=UTC),
            "place": "본사 3층 회의실",
            "fee_krw": 0,
        },
        [
            FORM_9,
            ("통지서 제목", "개인정보 일부열람 통지서"),
            ("열람할 개인정보", "- 담당자 이름"),
            ("열람 일시", "2026년 12월 22일(화) 14:00"),
            ("열람 장소", "본사 3층 회의실"),
            ("제한한 개인정보", "■ 열람을 제한한 개인정보\n- 접속기록"),
            ("사유", REASON),
            ("법적 근거", "개인정보 보호법 제35조제4항제2호"),
            OBJECTION,
            MEDIATION,
        ],
    ),
    "열람연기": Case(
        NoticeKind.POSTPONEMENT,
        "access",
        {"reason": "보관 시스템 이전 중입니다.", "expected_end": date(2026, 12, 23)},
        [
            FORM_9,
            ("통지서 제목", "개인정보 열람연기 통지서"),
            ("연기 사유", "보관 시스템 이전 중입니다."),
            ("열람 예정", "2026년 12월 23일(수)쯤"),
            OBJECTION,
            MEDIATION,
        ],
    ),
    "열람거절": Case(
        NoticeKind.ACCESS_RESULT,
        "access",
        {"outcome": "refused", "grounds": ["35-4-2"], "reason": REASON},
        [
            FORM_9,
            ("통지서 제목", "개인정보 열람거절 통지서"),
            ("거절한 개인정보", "- 요구하신 개인정보 전부"),
            ("사유", REASON),
            ("법적 근거", "개인정보 보호법 제35조제4항제2호"),
            OBJECTION,
            MEDIATION,
        ],
        must_not=["■ 비용"],
    ),
    "열람: 보유 개인정보 없음": Case(
        NoticeKind.ACCESS_RESULT,
        "access",
        {"outcome": "no_data_held", "reason": "가입 기록에서 찾을 수 없었습니다."},
        [FORM_9, ("결과", "열람하게 할 개인정보가 없습니다"), OBJECTION, MEDIATION],
        must_not=["■ 열람할 개인정보", "■ 비용"],
    ),
}

_ACTION_BOXES = {
    "granted": [("처리 결과", "조치를 마쳤습니다"), ("조치 내용", "■ 조치 내용")],
    "partially_granted": [
        ("처리 결과", "일부만 하였습니다"),
        ("조치 내용", "■ 조치 내용"),
        ("사유", "■ 일부를 조치하지 않은 사유"),
        ("법적 근거", "■ 법적 근거"),
        OBJECTION,
        MEDIATION,
    ],
    "refused": [
        ("처리 결과", "조치를 하지 않았습니다"),
        ("사유", "■ 조치하지 않은 사유"),
        ("법적 근거", "■ 법적 근거"),
        OBJECTION,
        MEDIATION,
    ],
    "no_data_held": [("처리 결과", "조치를 할 개인정보가 없습니다"), OBJECTION, MEDIATION],
    "unchanged": [
        ("처리 결과", "정정하지 않았습니다"),
        ("정정하지 않은 사유", "■ 정정하지 않은 사유"),
        OBJECTION,
        MEDIATION,
    ],
}
_GROUND = {"deletion": "36-1-proviso", "suspension": "37-2-1"}
_TITLE = {
    "correction": "개인정보 정정ㆍ삭제 요구에 대한 결과 통지서",
    "deletion": "개인정보 정정ㆍ삭제 요구에 대한 결과 통지서",
    "suspension": "개인정보 처리정지 요구에 대한 결과 통지서",
}
_LABEL = {"correction": "정정", "deletion": "삭제", "suspension": "처리정지"}


def _action_extra(rtype: str, outcome: str) -> dict[str, Any]:
    extra: dict[str, Any] = {"outcome": outcome}
    if outcome in ("granted", "partially_granted"):
        extra["action"] = "요구하신 조치를 12월 17일에 마쳤습니다."
    if outcome in ("partially_granted", "refused"):
        extra.update(grounds=[_GROUND[rtype]], reason=REASON)
        if rtype == "deletion":
            extra["statute"] = STATUTE
    if outcome in ("no_data_held", "unchanged"):
        extra["reason"] = "확인한 내용입니다."
    return extra


# --- form No. 10: every type, every outcome it can have ---------------------------------------
for _rtype in ("correction", "deletion", "suspension"):
    for _outcome, _boxes in _ACTION_BOXES.items():
        if _outcome == "unchanged" and _rtype != "correction":
            continue  # unchanged is a correction outcome only
        if _rtype == "correction" and _outcome in ("partially_granted", "refused"):
            continue  # no ground refuses a correction (rule 12): it ends `unchanged` instead
        _extra_boxes = [FORM_10, ("통지서 제목", _TITLE[_rtype]), ("요구 내용", _LABEL[_rtype])]
        if _rtype == "deletion" and _outcome in ("partially_granted", "refused"):
            # 표준지침 32②: a deletion refused under art. 36(1) 단서 names the statute.
            _extra_boxes.append(("관련 법령", STATUTE))
        CASES[f"{_LABEL[_rtype]}: {_outcome}"] = Case(
            NoticeKind.ACTION_RESULT,
            _rtype,
            _action_extra(_rtype, _outcome),
            _extra_boxes + _boxes,
            must_not=["■ 이의제기 방법"] if _outcome == "granted" else [],
        )


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(DEFAULT_POLICY_FILE)


def render(policy: Policy, case: Case) -> str:
    facts = NoticeFacts(
        reference="DSR-2612-CHECK001",
        request_type=case.request_type,
        service_code="uno",
        received_at=datetime(2026, 12, 15, 1, 0, tzinfo=UTC),
        legal_due_on=date(2026, 12, 28),
        recipient_name="김가상",
        extra=case.extra,
        written_on=WRITTEN_ON,
    )
    return render_notice(case.kind, notice_context(case.kind, facts, policy)).body


@pytest.mark.parametrize("name", list(CASES))
def test_the_notice_fills_every_box_of_its_form(policy: Policy, name: str) -> None:
    case = CASES[name]
    body = render(policy, case)
    missing = [box for box, text in EVERY_FORM + case.boxes if text not in body]
    assert missing == [], f"{name}: boxes not filled: {missing}"
    said = [text for text in case.must_not if text in body]
    assert said == [], f"{name}: must not say {said}"


@pytest.mark.parametrize("name", list(CASES))
def test_the_date_and_the_legal_person_close_the_notice(policy: Policy, name: str) -> None:
    """The stored body carries its date above the sender, as a signed letter does."""
    lines = render(policy, CASES[name]).rstrip().splitlines()
    closing = lines[lines.index("────────────────") + 1 :]
    assert closing[:3] == ["2026년 12월 18일(금)", "(주)케어랩스", "담당: CRM사업부"]


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if OBJECTION in c.boxes])
def test_only_the_mediation_body_is_offered_for_mediation(policy: Policy, name: str) -> None:
    body = render(policy, CASES[name])
    for line in body.splitlines():
        if "분쟁조정" in line and line.startswith("- "):
            assert line.startswith("- 개인정보 분쟁조정위원회("), line
    for body_name in ("대검찰청", "경찰청"):
        line = next(x for x in body.splitlines() if x.startswith(f"- {body_name}("))
        assert line.endswith(NO_MEDIATION_ELSEWHERE) and "분쟁" not in line
    line = next(x for x in body.splitlines() if x.startswith("- 개인정보침해신고센터("))
    assert "분쟁" not in line and "신고" in line


def test_the_checklist_covers_every_result_form_and_outcome() -> None:
    form_9 = {n for n, c in CASES.items() if FORM_9 in c.boxes}
    form_10 = {n for n, c in CASES.items() if FORM_10 in c.boxes}
    assert len(form_9) == 6  # 열람 (twice: electronic, mail), 일부열람, 연기, 거절, none held
    # Deletion and suspension by four outcomes; correction: granted, none held, unchanged.
    assert len(form_10) == 2 * 4 + 3


def test_the_published_objection_method_offers_mediation_only_of_the_mediation_body(
    policy: Policy,
) -> None:
    """The catalog, the landing page and the requester's view print this sentence."""
    text = objection_method(policy)
    assert "개인정보 분쟁조정위원회(1833-6972) 분쟁조정 신청" in text
    assert text.count("분쟁조정") == 2  # the body's name and what it offers, nothing else
    assert "개인정보침해신고센터(118) 개인정보 침해 신고·상담" in text
    assert "대검찰청(1301)·경찰청(182) 수사 의뢰(범죄 신고)" in text
