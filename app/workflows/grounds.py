"""Legal grounds on which a controller may restrict or refuse a rights request.

A pure table: GET /v1/catalog publishes it and decisions cite its codes. Texts are the
statute's own words (개인정보 보호법 as consolidated) unless a ground says `verbatim=False`:
then the text is our summary and is never printed in quotation marks.
Correction has no refusal ground of its own: art. 36(1) proviso bars only deletion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from app.models.vocab import RequestType

_ACCESS = frozenset({RequestType.ACCESS})
_DELETION = frozenset({RequestType.DELETION})
# Art. 37(3) proviso: consent withdrawal may be left unexecuted on the same art. 37(2) grounds.
_SUSPENSION = frozenset({RequestType.SUSPENSION, RequestType.CONSENT_WITHDRAWAL})
_TRANSMISSION = frozenset({RequestType.TRANSMISSION})

# Art. 35(4)3: lead-in shared by items 가-마.
_35_4_3 = (
    "공공기관이 다음 각 목의 어느 하나에 해당하는 업무를 수행할 때 중대한 지장을 초래하는 경우"
)
# Art. 35(4)2 and art. 37(2)2 have the same wording.
_HARM_TO_OTHERS = (
    "다른 사람의 생명ㆍ신체를 해할 우려가 있거나 다른 사람의 재산과 그 밖의 이익을 부당하게 "
    "침해할 우려가 있는 경우"
)


@dataclass(frozen=True)
class Ground:
    code: str
    article: str
    text_ko: str
    applies_to: frozenset[RequestType]
    public_only: bool = False
    # Art. 37(2)4: usable only while the subject has not clearly stated termination of the contract.
    requires_no_termination: bool = False
    # False: text_ko is our summary of the provision, not its words. Notices and pages print it
    # without quotation marks, labelled "(요지)"; the catalog says which.
    verbatim: bool = True


_LAW = "개인정보 보호법 "

_TABLE: tuple[Ground, ...] = (
    # Art. 35(4)1: access prohibited or limited by an Act.
    Ground(
        "35-4-1", _LAW + "제35조제4항제1호", "법률에 따라 열람이 금지되거나 제한되는 경우", _ACCESS
    ),
    # Art. 35(4)2: harm to another person's life, body, property or other interests.
    Ground("35-4-2", _LAW + "제35조제4항제2호", _HARM_TO_OTHERS, _ACCESS),
    # Art. 35(4)3 가-마: serious disruption of a public institution's duties.
    Ground(
        "35-4-3-ga",
        _LAW + "제35조제4항제3호가목",
        f"{_35_4_3} — 가. 조세의 부과ㆍ징수 또는 환급에 관한 업무",
        _ACCESS,
        public_only=True,
    ),
    Ground(
        "35-4-3-na",
        _LAW + "제35조제4항제3호나목",
        f"{_35_4_3} — 나. 「초ㆍ중등교육법」 및 「고등교육법」에 따른 각급 학교, "
        "「평생교육법」에 따른 평생교육시설, 그 밖의 다른 법률에 따라 설치된 고등교육기관에서의 "
        "성적 평가 또는 입학자 선발에 관한 업무",
        _ACCESS,
        public_only=True,
    ),
    Ground(
        "35-4-3-da",
        _LAW + "제35조제4항제3호다목",
        f"{_35_4_3} — 다. 학력ㆍ기능 및 채용에 관한 시험, 자격 심사에 관한 업무",
        _ACCESS,
        public_only=True,
    ),
    Ground(
        "35-4-3-ra",
        _LAW + "제35조제4항제3호라목",
        f"{_35_4_3} — 라. 보상금ㆍ급부금 산정 등에 대하여 진행 중인 평가 또는 판단에 관한 업무",
        _ACCESS,
        public_only=True,
    ),
    Ground(
        "35-4-3-ma",
        _LAW + "제35조제4항제3호마목",
        f"{_35_4_3} — 마. 다른 법률에 따라 진행 중인 감사 및 조사에 관한 업무",
        _ACCESS,
        public_only=True,
    ),
    # Art. 36(1) proviso: another statute names the data as a collection object.
    Ground(
        "36-1-proviso",
        _LAW + "제36조제1항 단서",
        "다른 법령에서 그 개인정보가 수집 대상으로 명시되어 있는 경우에는 "
        "그 삭제를 요구할 수 없다.",
        _DELETION,
    ),
    # Art. 37(2)1: special statutory provision or unavoidable legal obligation.
    Ground(
        "37-2-1",
        _LAW + "제37조제2항제1호",
        "법률에 특별한 규정이 있거나 법령상 의무를 준수하기 위하여 불가피한 경우",
        _SUSPENSION,
    ),
    # Art. 37(2)2: harm to another person (same wording as art. 35(4)2).
    Ground("37-2-2", _LAW + "제37조제2항제2호", _HARM_TO_OTHERS, _SUSPENSION),
    # Art. 37(2)3: a public institution could not perform its statutory duties.
    Ground(
        "37-2-3",
        _LAW + "제37조제2항제3호",
        "공공기관이 개인정보를 처리하지 아니하면 다른 법률에서 정하는 소관 업무를 수행할 수 "
        "없는 경우",
        _SUSPENSION,
        public_only=True,
    ),
    # Art. 37(2)4: the contract could not be performed and the subject has not ended it.
    Ground(
        "37-2-4",
        _LAW + "제37조제2항제4호",
        "개인정보를 처리하지 아니하면 정보주체와 약정한 서비스를 제공하지 못하는 등 계약의 "
        "이행이 곤란한 경우로서 정보주체가 그 계약의 해지 의사를 명확하게 밝히지 아니한 경우",
        _SUSPENSION,
        requires_no_termination=True,
    ),
    # --- Art. 37-2: automated decisions -------------------------------------------------
    # Art. 37-2(1) main text: only a fully automated decision with a significant effect on the
    # subject's rights or duties can be refused; usable only where the decision named is not
    # one (app.workflows.automated.check_automated_draft). A summary, not the statute's words.
    Ground(
        "art37-2-1",
        _LAW + "제37조의2제1항 본문",
        "완전히 자동화된 시스템으로 이루어지는 결정이 아니거나, 정보주체의 권리 또는 의무에 "
        "중대한 영향을 미치는 결정이 아니어서 거부할 수 있는 자동화된 결정에 해당하지 않는 경우",
        frozenset({RequestType.AUTOMATED_DECISION_REFUSAL}),
        verbatim=False,
    ),
    # Art. 37-2(1) proviso: a decision made under art. 15(1)1 (consent), 2 (a statute) or 4
    # (a contract) cannot be refused; usable only where the decision named rests on one of
    # them (app.workflows.automated.check_automated_draft).
    Ground(
        "art37-2-1-proviso",
        _LAW + "제37조의2제1항 단서",
        "자동화된 결정이 제15조제1항제1호ㆍ제2호 및 제4호에 따라 이루어지는 경우에는 "
        "그러하지 아니하다.",
        frozenset({RequestType.AUTOMATED_DECISION_REFUSAL}),
    ),
    # Art. 37-2(3): the controller acts "정당한 사유가 없는 한"; a justifiable reason is the
    # ground for not acting on any of the three requests (wording: docs/decisions.md). A
    # paraphrase of the paragraph, not its words.
    Ground(
        "art37-2-3",
        _LAW + "제37조의2제3항",
        "자동화된 결정을 적용하지 아니하거나 인적 개입에 의한 재처리ㆍ설명 등 필요한 조치를 "
        "하지 아니할 정당한 사유가 있는 경우",
        frozenset(
            {
                RequestType.AUTOMATED_DECISION_REFUSAL,
                RequestType.AUTOMATED_DECISION_EXPLANATION,
                RequestType.AUTOMATED_DECISION_REVIEW,
            }
        ),
        verbatim=False,
    ),
)

# Decree art. 42-8(1): the grounds on which a 정보전송자 may refuse or stop a transmission.
# The texts are our summaries, not the Decree's words, and the order is ours: both are
# UNVERIFIED until checked against the promulgated text (docs/decisions.md, "Transmission").
# So a notice cites the paragraph (제42조의8제1항), never a subparagraph number it cannot vouch
# for; the codes stay stable when the texts are checked.
_DECREE = "개인정보 보호법 시행령 "
_TRANSMISSION_GROUNDS = (
    "정보주체 본인이거나 정당한 대리인인지 확인되지 않는 경우",
    "전송 요구가 정보주체 본인의 의사에 따른 것이 아니라고 볼 만한 사유가 있는 경우"
    "(타인 명의 도용·부정한 방법에 의한 요구 등)",
    "전송을 요구받은 개인정보가 법 제35조의2에 따른 전송 대상 정보에 해당하지 않는 경우",
    "개인정보를 받는 자가 법 제35조의2제2항에 따라 전송을 받을 수 있는 자(개인정보관리 "
    "전문기관 등)에 해당하지 않는 경우",
    "법률에 따라 전송이 금지되거나 제한되는 경우",
    "다른 사람의 생명ㆍ신체를 해할 우려가 있거나 다른 사람의 재산과 그 밖의 이익을 부당하게 "
    "침해할 우려가 있는 경우",
    "전송 과정에서 개인정보의 유출ㆍ위조ㆍ변조 등 침해가 발생하였거나 발생할 우려가 있는 경우",
    "같은 내용의 전송을 짧은 기간에 반복하여 요구하는 등 전송 요구가 업무에 지장을 주는 "
    "방식으로 이루어지는 경우",
    "받는 자가 전송받은 개인정보를 안전하게 처리하지 않거나 정보주체의 권리를 침해하는 "
    "것으로 확인된 경우",
    "천재지변, 정보시스템 장애 등 불가피한 사유로 전송이 불가능한 경우",
    "정보주체가 전송 요구를 철회하거나 전송 중단을 요청한 경우",
)
_TABLE += tuple(
    Ground(
        f"42-8-1-{n}",
        f"{_DECREE}제42조의8제1항",
        text,
        _TRANSMISSION,
        verbatim=False,
    )
    for n, text in enumerate(_TRANSMISSION_GROUNDS, start=1)
)

GROUNDS: Mapping[str, Ground] = MappingProxyType({g.code: g for g in _TABLE})
if len(GROUNDS) != len(_TABLE):  # a reused code would silently replace a ground
    raise RuntimeError("duplicate ground code in app.workflows.grounds")


def grounds_for(request_type: str, *, public_institution: bool) -> list[Ground]:
    """The grounds a controller may cite against a request of this type, in statute order.

    Public-institution-only grounds are left out for a private controller. A type without
    grounds (correction, objection, an unknown type) gets an empty list.
    """
    return [
        g
        for g in GROUNDS.values()
        if request_type in g.applies_to and (public_institution or not g.public_only)
    ]
