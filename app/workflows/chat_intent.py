"""Which rights a customer's chat message asks for (Channel Talk; channeltalk.md §5.2).

Pure: no I/O, no clock, no logging. Korean first, English as a fallback. HIGH files a request;
LOW asks a manager to confirm in a private note. Verb stems are matched as substrings (Korean
has no word boundaries); a space in a term also matches no space ("회원 탈퇴" ~ "회원탈퇴").
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from enum import StrEnum

MAX_CHARS = 2000  # only the start of a long message is read


class Confidence(StrEnum):
    HIGH = "high"  # file a request automatically
    LOW = "low"  # ask a manager to confirm (private note)


@dataclass(frozen=True)
class Intent:
    # "access", "correction", "deletion", "suspension", "consent_withdrawal", or one of the
    # three "automated_decision_*" types (art. 37-2)
    type: str
    confidence: Confidence
    score: float  # 0..1, higher = surer
    matched: tuple[str, ...]  # the terms that matched, in text order


# The term tables are data: a row per type, not a line per term.
# fmt: off
# Action terms: on their own they give LOW; with an anchor term, HIGH.
_ACTIONS: dict[str, tuple[str, ...]] = {
    # PIPA art. 35: 열람 (access)
    "access": ("열람", "조회", "사본", "확인하고 싶", "보여 주", "무슨 정보", "어떤 정보",
               "보유하고 있", "가지고 있는", "갖고 있는", "access", "copy of my data", "what data",
               "what information", "what personal", "you hold", "download my data"),
    # PIPA art. 36(1): 정정 (correction)
    "correction": ("정정", "수정", "변경", "잘못된", "잘못되", "잘못됐", "틀린", "틀렸", "바꿔",
                   "correct", "rectif", "update my", "change my", "wrong"),
    # PIPA art. 36(1): 삭제 (deletion); 탈퇴 closes the account, so it is deletion too
    "deletion": ("삭제", "파기", "지워", "지우", "없애", "탈퇴", "delete", "deletion", "erase",
                 "erasure", "remove my", "close my account"),
    # PIPA art. 37(1): 처리정지 (suspension of processing)
    "suspension": ("이용 중지", "처리를 멈", "처리를 정지", "처리 중지", "처리를 중지", "그만 이용",
                   "이용하지 마", "이용하지 말", "사용하지 마", "사용하지 말", "그만 보내",
                   "수신 거부", "마케팅 거부", "광고 거부", "스팸", "restrict", "opt out",
                   "unsubscribe", "stop using my data"),
    # PIPA art. 37(1) as amended in 2023: 동의 철회 (consent withdrawal), a type of its own
    "consent_withdrawal": ("동의 안 함", "동의하지 않"),
    # PIPA art. 37-2: automated decisions; only their phrases below, never a bare verb
    "automated_decision_refusal": (),
    "automated_decision_explanation": (),
    "automated_decision_review": (),
}
# Unambiguous phrases: HIGH on their own, no anchor needed.
_STRONG: dict[str, tuple[str, ...]] = {
    "access": ("열람 청구", "열람 요구", "subject access"),
    "correction": ("정정 요구",),
    "deletion": ("회원 탈퇴", "탈퇴하고 싶", "탈퇴 요청", "탈퇴 신청", "탈퇴를 원",
                 "right to be forgotten"),
    "suspension": ("처리정지", "처리 정지", "stop processing"),
    "consent_withdrawal": ("동의 철회", "동의를 철회", "동의 취소", "동의를 취소",
                           "withdraw consent", "withdraw my consent", "revoke consent",
                           "revoke my consent"),
    # Art. 37-2: a decision made automatically (자동으로, AI) and what is asked about it
    "automated_decision_refusal": ("자동화된 결정 거부", "자동화된 결정을 거부", "자동 결정을 거부",
                                   "자동화된 결정을 적용하지", "자동 판단을 거부", "ai 판단을 거부",
                                   "refuse the automated decision"),
    "automated_decision_explanation": ("자동화된 결정에 대한 설명", "자동화된 결정 설명",
                                       "자동으로 정지된 이유", "자동으로 정지된 사유",
                                       "자동으로 제한된 이유", "자동으로 제한된 사유",
                                       "자동으로 차단된 이유", "자동으로 차단된 사유",
                                       "ai가 판단한 이유", "ai가 판단한 근거",
                                       "explain the automated decision"),
    "automated_decision_review": ("ai 판단 말고", "인공지능 판단 말고", "자동 판단 말고",
                                  "사람이 다시 봐", "사람이 다시 검토", "사람이 직접 다시 검토",
                                  "자동화된 결정 검토", "자동화된 결정을 다시 검토",
                                  "human review"),
}
# Anchor terms name personal data or the account as the object; the value is the HIGH score.
_ANCHORS: dict[str, float] = {
    **dict.fromkeys(("개인정보", "개인 정보", "내 정보", "제 정보", "나의 정보", "저의 정보",
                     "회원정보", "회원 정보", "고객정보", "고객 정보", "내 데이터", "제 데이터",
                     "저에 대한", "저에 대해", "저에 관한", "personal data", "personal information",
                     "personal info", "my data", "my information", "my details", "about me"), 0.9),
    **dict.fromkeys(("계정", "데이터", "기록", "my account"), 0.8),
    "정보": 0.6,  # plain 정보 ("안내 정보", "상품 정보") lifts the score but never to HIGH
}
# Contact fields are anchors (0.8) only as the object of a correction or deletion.
_FIELDS = ("전화번호", "휴대폰 번호", "연락처", "이메일", "주소", "이름", "my email", "my phone",
           "my address", "my name")
_FIELD_TYPES = frozenset({"correction", "deletion"})
# Everyday support objects: in their clause, only a 0.9 anchor counts.
_CONTEXT = ("주문", "예약", "배송", "결제", "청구서", "세금계산서", "영수증", "게시글", "게시물",
            "댓글", "리뷰", "후기", "발송", "장바구니", "쿠폰", "포인트", "환불", "상품", "제품",
            "비밀번호", "카드", "order", "booking", "reservation", "delivery", "shipping",
            "payment", "invoice", "refund", "password", "cart", "post", "comment", "review")
# Policy documents mention 개인정보 without being about the customer's data.
_POLICY = (r"개인정보\s?(?:처리|취급)\s?방침", r"개인정보\s?보호\s?정책", r"privacy policy")
# Sentence ends; a 요 that ends a noun (필요, 중요, 주요) does not end one.
_CLAUSE_ENDS = (r"[.!?。\n]+\s*", r"(?<=니다)~*\s+", r"(?<=요)(?<!필요)(?<!중요)(?<!주요)~*\s+")
# Negation right after the term ("삭제하지 마세요", "탈퇴 안 할게요") or before it ("안 지워").
_NEG_AFTER = (r"^.{0,5}?(?:지\s?(?:마|말|않)|\s안\s?[할하해함합]|면\s?안\s?[돼되됩]"
              r"|원치|싫|필요\s?없)",)
_NEG_BEFORE = (r"(?:^|[^가-힣])안\s?$", r"\b(?:went|goes|gone)\s+$",
               r"\b(?:don[’']?t|do not|never|not|no need to)\s+(?:\w+\s+){0,3}$")
# A clause reporting a fault is at most LOW; so is a question about the process without a wish.
_TROUBLE = (r"안\s?[돼되됩]", "오류", "에러", "실패", r"\bcan[’']?t\b", r"\bcannot\b",
            r"\bunable\b", r"\berror\b", r"\bnot working\b", r"\bdoesn[’']?t work")
_QUESTION = ("하면", "되면", "되나", "되는지", "될까", "됐나", "되었나", "어떻게", "방법", "절차",
             "언제", "어디서", r"[가-힣] 시(?:\s|$)", r"\bhow (?:do|can|to|long)\b",
             r"\bwhat happens\b", r"\bif i\b", r"\b(?:will|is|are) my\b")
_WISH = ("싶", "원합", "원해", "원함", "요청합", "요청드", "신청합", r"[해워]\s?[주줘]",
         r"\bplease\b", r"\bi want\b", r"\bi[’']?d like\b", r"\bi would like\b")
# fmt: on
_HIGH_AT, _STRONG_SCORE, _ALONE_SCORE, _CAPPED_SCORE = 0.7, 0.95, 0.45, 0.35
_TAG = re.compile(r"</?(?:b|i|u|s|em|strong|code|link|a|span|br)\b[^<>]*>", re.IGNORECASE)


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(patterns))


def _term_rx(terms: tuple[str, ...]) -> re.Pattern[str]:
    """Longest first; Latin terms start a word, one-syllable pronouns (내, 제) a Hangul one."""
    out = []
    for term in sorted(terms, key=len, reverse=True):
        words = term.split(" ")
        body = ("[\\s-]?" if term.isascii() else "\\s?").join(map(re.escape, words))
        start = r"\b" if term.isascii() else "(?<![가-힣])" if len(words[0]) == 1 else ""
        out.append(start + body)
    return _rx(*out)


def _key(text: str) -> str:
    return re.sub(r"[\s-]", "", text)


def _canonical(*tables: tuple[str, ...]) -> dict[str, str]:
    """Matched text (spaces dropped) -> the first table term spelled that way."""
    out: dict[str, str] = {}
    for term in (t for table in tables for t in table):
        out.setdefault(_key(term), term)
    return out


_TYPE_RX = {t: _term_rx(_ACTIONS[t] + _STRONG[t]) for t in _ACTIONS}
_TERM_OF = _canonical(*_ACTIONS.values(), *_STRONG.values())
_STRONG_KEYS = frozenset(_key(t) for terms in _STRONG.values() for t in terms)
_ANCHOR_RX = _term_rx(tuple(_ANCHORS))
_ANCHOR_OF = _canonical(tuple(_ANCHORS), _FIELDS)
_FIELD_RX = _term_rx(_FIELDS)
_CONTEXT_RX = _term_rx(_CONTEXT)
_POLICY_RX = _rx(*_POLICY)
_CLAUSE_END_RX = _rx(*_CLAUSE_ENDS)
_NEG_AFTER_RX, _NEG_BEFORE_RX = _rx(*_NEG_AFTER), _rx(*_NEG_BEFORE)
_TROUBLE_RX, _QUESTION_RX, _WISH_RX = _rx(*_TROUBLE), _rx(*_QUESTION), _rx(*_WISH)


def normalize(text: str) -> str:
    """NFKC, Channel Talk inline tags removed (labels kept), whitespace collapsed, lower case."""
    text = unicodedata.normalize("NFKC", _TAG.sub("", text))
    return " ".join(text.split()).lower()


def _prepare(text: str) -> str:
    """Normalised line by line (line ends still end clauses), cut to MAX_CHARS."""
    lines = (normalize(line) for line in _TAG.sub("", text[: MAX_CHARS * 4]).splitlines())
    return "\n".join(line for line in lines if line)[:MAX_CHARS]


@dataclass(frozen=True)
class _Hit:
    term: str
    start: int
    level: float  # anchors: the HIGH score they allow; actions: 1.0 if unambiguous


class _Message:
    """The prepared text with its clauses and anchors, shared by every request type."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.ends = [m.end() for m in _CLAUSE_END_RX.finditer(text)] + [len(text)]
        blanked = _POLICY_RX.sub(lambda m: " " * len(m.group()), text)
        self.anchors = [self._anchor(m) for m in _ANCHOR_RX.finditer(blanked)]
        self.fields = [self._anchor(m) for m in _FIELD_RX.finditer(text)]

    def clause(self, pos: int) -> tuple[int, int]:
        i = bisect_right(self.ends, pos)
        return (self.ends[i - 1] if i else 0), self.ends[min(i, len(self.ends) - 1)]

    def _anchor(self, found: re.Match[str]) -> _Hit:
        term = _ANCHOR_OF[_key(found.group())]
        level = _ANCHORS.get(term, 0.8)  # contact fields: 0.8
        if level < 0.9 and _CONTEXT_RX.search(self.text, *self.clause(found.start())):
            level = 0.0  # "주문 기록", "배송 주소": an order's data, not the person's
        return _Hit(term, found.start(), level)


def _negated(msg: _Message, start: int, end: int) -> bool:
    lo, hi = msg.clause(start)
    after = msg.text[end : min(end + 10, hi)]
    before = msg.text[max(lo, start - 30) : start]
    return bool(_NEG_AFTER_RX.search(after) or _NEG_BEFORE_RX.search(before))


def _capped(msg: _Message, start: int) -> bool:
    clause = msg.text[slice(*msg.clause(start))]
    return bool(
        _TROUBLE_RX.search(clause) or (_QUESTION_RX.search(clause) and not _WISH_RX.search(clause))
    )


def _intent(msg: _Message, kind: str) -> Intent | None:
    actions = [
        _Hit(_TERM_OF[_key(m.group())], m.start(), float(_key(m.group()) in _STRONG_KEYS))
        for m in _TYPE_RX[kind].finditer(msg.text)
        if not _negated(msg, m.start(), m.end())
    ]
    if not actions:
        return None
    spans = [(m.start(), m.end()) for m in _TYPE_RX[kind].finditer(msg.text)]
    anchors = [
        a
        for a in msg.anchors + (msg.fields if kind in _FIELD_TYPES else [])
        if a.level > 0 and not (a.term == "정보" and any(s <= a.start < e for s, e in spans))
    ]
    best_anchor = max((a.level for a in anchors), default=_ALONE_SCORE)
    score = 0.0
    for hit in actions:
        hit_score = _STRONG_SCORE if hit.level else best_anchor
        score = max(score, min(hit_score, _CAPPED_SCORE) if _capped(msg, hit.start) else hit_score)
    confidence = Confidence.HIGH if score >= _HIGH_AT else Confidence.LOW
    used = actions + (anchors if best_anchor > _ALONE_SCORE else [])
    matched = tuple(dict.fromkeys(h.term for h in sorted(used, key=lambda h: h.start)))
    return Intent(kind, confidence, score, matched)


def classify(text: str) -> list[Intent]:
    """One Intent per request type the message asks for, surest first; [] if none."""
    msg = _Message(_prepare(text))
    found = [i for kind in _ACTIONS if (i := _intent(msg, kind)) is not None]
    return sorted(found, key=lambda i: -i.score)


# Three and three digits, with no digit either side: "123456", "123 456", "123-456".
_CODE = re.compile(r"(?<![0-9])([0-9]{3})[ -]?([0-9]{3})(?![0-9])")
# Words allowed around the code: "인증번호", "코드는", "입니다", "my code is" ...
_FILLER = re.compile(
    r"(?:인증|확인|보안|일회용)?(?:번호|코드)?(?:는|은|가|이|를|요|입니다)?|이?(?:에요|예요|요)"
    r"|입니다|입니당|이요|임|네|넵|여기요?|있어요|있습니다|보내드려요|드려요|감사합니다|감사해요"
    r"|my|the|your|verification|one|time|otp|pin|security|code|number|is|here|it"
)


def verification_code(text: str) -> str | None:
    """The six-digit one-time code when the message is just that code, else None."""
    norm = normalize(text)
    found = _CODE.search(norm)
    if found is None or len(norm) > 60:
        return None
    rest = norm[: found.start()] + " " + norm[found.end() :]
    words = re.findall(r"[^\W\d_]+", rest)
    if re.search(r"\d", rest) or not all(_FILLER.fullmatch(w) for w in words):
        return None  # another number (phone, date, amount) or other words
    return found.group(1) + found.group(2)
