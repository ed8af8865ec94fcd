"""Resident registration numbers (주민등록번호) are never stored (PIPA art. 24-2).

Any free text that reaches storage goes through `mask`, which keeps the birth date and the
first digit of the back half ("900101-1******") and drops the six digits that identify.
"""

from __future__ import annotations

import re

_RRN = re.compile(
    r"(?<!\d)(\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))\s*-?\s*([1-8])\d{6}(?!\d)"
)

# The requester is told why their text changed.
MASKED_NOTICE = (
    "주민등록번호로 보이는 번호는 뒷자리를 가리고 저장했습니다. 주민등록번호는 법령에 근거가 "
    "있을 때만 처리할 수 있어(개인정보 보호법 제24조의2) 이 요청에는 받지 않습니다."
)


def contains(text: str | None) -> bool:
    return bool(text) and _RRN.search(text or "") is not None


def mask(text: str) -> str:
    return _RRN.sub(lambda m: f"{m.group(1)}-{m.group(2)}******", text)
