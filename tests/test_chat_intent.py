"""The chat-message classifier: which rights a customer asks for, and how surely (pure rules).

Every message here is synthetic. A case lists the exact (type, confidence) set expected, so a new
false positive fails as surely as a miss.
"""

from __future__ import annotations

import pytest

from app.models.vocab import FILEABLE_TYPES
from app.workflows.chat_intent import (
    MAX_CHARS,
    Confidence,
    Intent,
    classify,
    normalize,
    verification_code,
)

H, L = Confidence.HIGH, Confidence.LOW
Expected = set[tuple[str, Confidence]]

KOREAN: list[tuple[str, Expected]] = [
    # Action + anchor, or an unambiguous phrase: filed automatically.
    ("제 개인정보를 삭제해 주세요. 회원 탈퇴도 원합니다.", {("deletion", H)}),
    ("개인 정보 파기 요청합니다", {("deletion", H)}),
    ("회원 탈퇴하고 싶어요", {("deletion", H)}),
    ("회원탈퇴", {("deletion", H)}),
    ("탈퇴 요청합니다", {("deletion", H)}),
    ("탈퇴하고 싶은데 어떻게 하면 되나요?", {("deletion", H)}),
    ("계정 삭제해 주세요", {("deletion", H)}),
    ("상담 기록 지워 주세요", {("deletion", H)}),
    ("제 데이터 다 지워 주세요", {("deletion", H)}),
    ("연락처 삭제 부탁드립니다", {("deletion", H)}),
    ("제 개인정보 삭제해 주실 수 있나요?", {("deletion", H)}),
    ("예약 취소하고 제 개인정보도 삭제해 주세요", {("deletion", H)}),
    ("🙏 제 개인정보 삭제 부탁드려요!! 😭", {("deletion", H)}),
    ("제 개인정보 사본을 받고 싶습니다", {("access", H)}),
    ("회사가 저에 대해 어떤 정보를 보유하고 있는지 알고 싶어요", {("access", H)}),
    ("저에 관한 기록을 모두 보여주세요", {("access", H)}),
    ("내 정보 수정", {("correction", H)}),
    ("고객정보 변경 부탁드립니다", {("correction", H)}),
    ("제 전화번호가 잘못되어 있어요. 정정해 주세요", {("correction", H)}),
    ("이메일 주소 변경해 주세요", {("correction", H)}),
    ("회원 정보에 주소가 잘못된 것 같아요", {("correction", H)}),
    ("개인정보 처리정지 요청합니다", {("suspension", H)}),
    ("제 개인정보 이용 중지해 주세요", {("suspension", H)}),
    ("개인정보보호법에 따라 제 정보의 처리를 정지해 주세요", {("suspension", H)}),
    ("제 개인정보를 마케팅에 이용하지 말아 주세요", {("suspension", H)}),
    ("마케팅 수신 동의 철회합니다", {("consent_withdrawal", H)}),
    ("개인정보 제3자 제공 동의를 철회하겠습니다", {("consent_withdrawal", H)}),
    ("개인정보 수집 동의 취소하고 싶어요", {("consent_withdrawal", H)}),
    # Several rights in one message.
    ("제 개인정보 열람하고 삭제도 해 주세요", {("access", H), ("deletion", H)}),
    ("개인정보 열람은 필요 없고 삭제만 해 주세요", {("deletion", H)}),
    (
        "제 정보 수정해 주시고, 마케팅 동의 철회도 해 주세요",
        {("correction", H), ("consent_withdrawal", H)},
    ),
    # Art. 37-2: a decision made automatically (or by AI), and what is asked about it.
    ("자동으로 정지된 이유를 설명해 주세요", {("automated_decision_explanation", H)}),
    ("계정이 자동으로 제한된 사유가 궁금합니다", {("automated_decision_explanation", H)}),
    ("AI 판단 말고 사람이 다시 봐 주세요", {("automated_decision_review", H)}),
    ("이용 제한 건, 사람이 다시 검토해 주세요", {("automated_decision_review", H)}),
    ("자동화된 결정을 거부합니다", {("automated_decision_refusal", H)}),
    # "정지" alone is neither a suspension nor an automated decision.
    ("계정이 정지됐어요", set()),
    # An action without a personal-data anchor: a manager confirms.
    ("주문 수정해 주세요", {("correction", L)}),
    ("예약 변경 가능한가요?", {("correction", L)}),
    ("배송지 변경 부탁드려요", {("correction", L)}),
    ("배송 주소 변경해 주세요", {("correction", L)}),
    ("청구서 수정 부탁드립니다", {("correction", L)}),
    ("결제 정보 수정하고 싶어요", {("correction", L)}),
    ("계정 비밀번호 변경하고 싶어요", {("correction", L)}),
    ("안내 정보 변경해 주세요", {("correction", L)}),
    ("주문 기록 삭제해 주세요", {("deletion", L)}),
    ("게시글 삭제해 주세요", {("deletion", L)}),
    ("카드 정보 삭제해 주세요", {("deletion", L)}),
    ("탈퇴할게요", {("deletion", L)}),
    ("문자 발송 내역 조회하고 싶어요", {("access", L)}),
    ("조회가 안 돼요", {("access", L)}),
    ("어떤 정보가 필요한가요?", {("access", L)}),
    ("광고 문자 수신거부", {("suspension", L)}),
    ("스팸 문자가 너무 많이 와요", {("suspension", L)}),
    ("개인정보 처리방침 변경 내용 확인하고 싶어요", {("access", L), ("correction", L)}),
    # A question about the process, or a fault report, is LOW at most.
    ("탈퇴하면 정보가 삭제되나요?", {("deletion", L)}),
    ("회원 탈퇴 시 개인정보는 언제 파기되나요?", {("deletion", L)}),
    ("개인정보 삭제 방법 알려주세요", {("deletion", L)}),
    ("개인정보 조회가 안 돼요", {("access", L)}),
    ("탈퇴가 안 돼요", {("deletion", L)}),
    # Negation: no intent for the negated type.
    ("삭제하지 마세요", set()),
    ("제 정보 삭제하지 마세요", set()),
    ("탈퇴 안 할게요", set()),
    ("지우지 말아 주세요", set()),
    ("개인정보 삭제하면 안 돼요", set()),
    ("삭제는 원하지 않습니다", set()),
    ("제 정보 안 지워도 됩니다", set()),
    ("회원 탈퇴 안 하고 개인정보만 수정하고 싶어요", {("correction", H)}),
    # Not a rights request at all.
    ("안녕하세요", set()),
    ("결제 오류가 나요", set()),
    ("로그인이 안 됩니다", set()),
    ("영수증 보내주세요", set()),
    ("결제 취소해 주세요", set()),
    ("청구서 재발송 부탁드려요", set()),
    ("개인정보", set()),
    ("", set()),
]

ENGLISH: list[tuple[str, Expected]] = [
    ("Please delete my personal data.", {("deletion", H)}),
    ("I want a copy of my data", {("access", H)}),
    ("I'd like to know what personal data you hold about me", {("access", H)}),
    ("Please erase all my data, right to be forgotten", {("deletion", H)}),
    ("I withdraw my consent to marketing", {("consent_withdrawal", H)}),
    ("Please stop processing my personal information", {("suspension", H)}),
    ("Can you update my email address?", {("correction", H)}),
    ("My details are wrong, please correct them", {("correction", H)}),
    ("How do I delete my account?", {("deletion", L)}),
    ("I can't access my account", {("access", L)}),
    ("unsubscribe", {("suspension", L)}),
    ("Please don't delete my account", set()),
    ("hello", set()),
    ("Where is my order?", set()),
    ("Something went wrong with my payment", set()),
]

MIXED: list[tuple[str, Expected]] = [
    ("제 personal data delete 해 주세요", {("deletion", H)}),
    ("안녕하세요\n제 개인정보\n삭제해 주세요", {("deletion", H)}),
    ("안녕하세요\n\n주문 변경 문의드려요\n감사합니다", {("correction", L)}),
    ("<b>개인정보</b> 삭제해 주세요", {("deletion", H)}),
    (
        '<link type="url" value="https://example.com/x">회원 탈퇴</link> 하고 싶어요',
        {("deletion", H)},
    ),
    ("ＰＥＲＳＯＮＡＬ　ＤＡＴＡ　ＤＥＬＥＴＥ　please", {("deletion", H)}),
]


def _got(text: str) -> Expected:
    return {(i.type, i.confidence) for i in classify(text)}


@pytest.mark.parametrize(("text", "expected"), KOREAN + ENGLISH + MIXED)
def test_classify_table(text: str, expected: Expected) -> None:
    assert _got(text) == expected


def test_table_is_large_enough() -> None:
    assert len(KOREAN) >= 40
    assert len(ENGLISH) >= 8


@pytest.mark.parametrize("text", [t for t, _ in KOREAN + ENGLISH + MIXED])
def test_intents_are_well_formed(text: str) -> None:
    intents = classify(text)
    fileable = {t.value for t in FILEABLE_TYPES}
    assert [i.score for i in intents] == sorted((i.score for i in intents), reverse=True)
    assert len({i.type for i in intents}) == len(intents)
    for intent in intents:
        assert intent.type in fileable
        assert 0.0 < intent.score <= 1.0
        assert intent.matched
        assert (intent.confidence is H) == (intent.score >= 0.7)


def test_matched_terms_are_in_text_order() -> None:
    assert classify("제 개인정보를 삭제해 주세요. 회원 탈퇴도 원합니다.") == [
        Intent("deletion", H, 0.95, ("개인정보", "삭제", "회원 탈퇴")),
    ]
    [access, deletion] = sorted(
        classify("제 개인정보 열람하고 삭제도 해 주세요"), key=lambda i: i.type
    )
    assert access.matched == ("개인정보", "열람")
    assert deletion.matched == ("개인정보", "삭제")


def test_low_intent_names_only_the_action() -> None:
    assert classify("주문 수정해 주세요") == [Intent("correction", L, 0.45, ("수정",))]


def test_surest_intent_first() -> None:
    intents = classify("주문 변경해 주세요. 그리고 회원 탈퇴 요청합니다")
    assert [(i.type, i.confidence) for i in intents] == [("deletion", H), ("correction", L)]


def test_only_the_first_max_chars_are_read() -> None:
    filler = "가" * MAX_CHARS
    assert classify(filler + " 제 개인정보 삭제해 주세요") == []
    assert _got("제 개인정보 삭제해 주세요 " + filler) == {("deletion", H)}
    assert classify("ㅋ" * 200_000) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  제   개인정보\n\n삭제\t해 주세요  ", "제 개인정보 삭제 해 주세요"),
        ("<b>개인정보</b> <i>삭제</i>", "개인정보 삭제"),
        (
            '<link type="url" value="https://example.com/p?a=1">여기</link>를 보세요',
            "여기를 보세요",
        ),
        ('<link type="manager" value="42">@담당자</link> 확인 부탁', "@담당자 확인 부탁"),
        ("DELETE My Data", "delete my data"),
        ("ＡＢＣ１２３", "abc123"),  # full-width forms fold under NFKC
        ("a < b 이고 c > d", "a < b 이고 c > d"),  # not markup
        ("하트 <3", "하트 <3"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected
    assert normalize(expected) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("123456", "123456"),
        ("인증번호 123456", "123456"),
        ("123 456", "123456"),
        ("123-456", "123456"),
        ("코드: 123456 입니다", "123456"),
        ("인증번호는 123456이에요", "123456"),
        ("  654321  ", "654321"),
        ("OTP 000123", "000123"),
        ("１２３４５６", "123456"),
        ("<b>123456</b>", "123456"),
        ("my code is 123456", "123456"),
        ("123456입니다 감사합니다", "123456"),
    ],
)
def test_verification_code_found(text: str, code: str) -> None:
    assert verification_code(text) == code


@pytest.mark.parametrize(
    "text",
    [
        "010-1234-5678",  # phone number
        "01012345678",
        "2024-07-25",  # date
        "2024.07.25",
        "1234567",  # longer number
        "12345",
        "12 3456",
        "123 456 789",
        "123456 654321",
        "123,456원",  # an amount
        "주문번호 123456",  # an order number, not a code
        "123456 삭제해 주세요",
        "제 생일은 990101이에요",
        "인증번호를 못 받았어요",
        "",
        "인증번호 123456 " + "가" * 80,  # not essentially just the code
    ],
)
def test_verification_code_rejected(text: str) -> None:
    assert verification_code(text) is None
