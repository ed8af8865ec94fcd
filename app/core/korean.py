"""Korean particles (josa) that fit the word before them, so no text says "은(는)"."""

from __future__ import annotations

# How the last character of a word that is not Hangul is read aloud: digits in Sino-Korean
# (영, 일, 이, 삼 ...), Latin letters by their English names (에이, 비, 씨 ... 엘, 엠, 엔, 알).
# The value is the final consonant of that reading: "" none, "ㄹ", or "other".
_READ_FINAL: dict[str, str] = {
    **dict.fromkeys("0", "other"),  # 영
    **dict.fromkeys("178", "ㄹ"),  # 일, 칠, 팔
    **dict.fromkeys("36", "other"),  # 삼, 육
    **dict.fromkeys("LR", "ㄹ"),  # 엘, 알
    **dict.fromkeys("MN", "other"),  # 엠, 엔
}
_RIEUL = 8  # ㄹ as a final consonant (jongseong index)


def _final(word: str) -> str | None:
    """The final consonant of the word's last sound: "", "ㄹ", "other", or None when the
    word ends in something that is not read (punctuation, nothing at all)."""
    stripped = word.rstrip().rstrip(")]}'\".")
    last = stripped[-1:]
    if "가" <= last <= "힣":
        index = (ord(last) - ord("가")) % 28
        return "" if index == 0 else "ㄹ" if index == _RIEUL else "other"
    if last.isascii() and last.isalnum():
        return _READ_FINAL.get(last.upper(), "")
    return None


def josa(word: str, pair: str) -> str:
    """`word` followed by the Korean particle that fits its last sound.

    `pair` is "after a final consonant/after a vowel", e.g. "이/가", "을/를", "은/는", "과/와",
    "으로/로" (ㄹ takes 로). Digits and Latin letters are read as Koreans read them aloud
    ("DSR-2612-0ZYSHKG2로", "CRM을", "scan.pdf는"); only a word ending in something unread
    gets both ("…을(를)").
    """
    after_consonant, after_vowel = pair.split("/")
    final = _final(word)
    if final is None:
        return f"{word}{after_consonant}({after_vowel})"
    if final == "" or (after_vowel == "로" and final == "ㄹ"):
        return word + after_vowel
    return word + after_consonant
