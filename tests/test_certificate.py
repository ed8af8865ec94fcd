"""The certificate of execution (app/services/tasks/certificate.py): HTML and PDF."""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import replace
from datetime import UTC, date, datetime

import pypdf
import pytest

from app.services.tasks.certificate import (
    INCOMPLETE_BANNER,
    LEGAL_BASIS,
    Certificate,
    CertificateTask,
    EvidenceFile,
    KeptItem,
    format_date,
    format_datetime,
    render_html,
    render_pdf,
)

SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

DB_TASK = CertificateTask(
    holder_name="우노 서비스 DB",
    holder_kind="system",
    items=("휴대전화번호", "상담 기록"),
    instruction="삭제",
    status="done",
    action="삭제함",
    method="복구·재생할 수 없도록 영구 삭제",
    performed_by="정보보안팀 담당자 #3",
    performed_at=datetime(2026, 12, 20, 5, 3, tzinfo=UTC),  # 14:03 KST, a Sunday
    note="백업 <script>alert(1)</script> 포함",
    waived_reason=None,
    waived_by=None,
    evidence=(EvidenceFile(name="db_delete_log.txt", sha256=SHA, size=2048),),
)
CHANNEL_TASK = CertificateTask(
    holder_name="(주)채널코퍼레이션(채널톡)",
    holder_kind="processor",
    items=("상담 기록",),
    instruction="삭제",
    status="done",
    action="삭제함",
    method="관리 화면에서 대화 삭제",
    performed_by="수탁자 확인 (링크)",
    performed_at=datetime(2026, 12, 21, 1, 30, tzinfo=UTC),
    note=None,
    waived_reason=None,
    waived_by=None,
    evidence=(),
)
SMS_TASK = CertificateTask(
    holder_name="문자발송대행사 A",
    holder_kind="processor",
    items=("휴대전화번호",),
    instruction="삭제",
    status="waived",
    action=None,
    method=None,
    performed_by=None,
    performed_at=None,
    note=None,
    waived_reason="위탁 기간 중 해당 정보를 보관하지 않음(발송 후 즉시 파기)",
    waived_by="개인정보 보호책임자 신종현",
    evidence=(),
)

CERT = Certificate(
    controller_name="(주)케어랩스 CRM사업부",
    reference="DSR-2612-AB12CD34",
    request_type_label="삭제",
    service_name="우노",
    received_at=datetime(2026, 12, 15, 1, 0, tzinfo=UTC),
    legal_due_on=date(2026, 12, 28),
    decided_at=datetime(2026, 12, 18, 2, 0, tzinfo=UTC),
    completed_at=datetime(2026, 12, 21, 1, 30, tzinfo=UTC),
    outcome_label="일부 인용",
    kept=(
        KeptItem(item_name="결제 기록", statute="「전자상거래법」 제6조", until=date(2031, 12, 15)),
    ),
    tasks=(DB_TASK, CHANNEL_TASK, SMS_TASK),
    issued_at=datetime(2026, 12, 21, 2, 0, tzinfo=UTC),
    issued_by="정보보안팀 담당자 #3",
    officer="개인정보 보호책임자 신종현",
)

OPEN = replace(
    CERT,
    completed_at=None,
    tasks=(DB_TASK, replace(CHANNEL_TASK, status="open", action=None, performed_at=None)),
)


def _pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "".join(page.extract_text() for page in reader.pages)


def _squeeze(text: str) -> str:
    """Without whitespace: table cells wrap anywhere, so words may be split over lines."""
    return re.sub(r"\s+", "", text)


def test_formats_in_kst_with_weekday() -> None:
    assert format_datetime(DB_TASK.performed_at) == "2026년 12월 20일(일) 14:03"  # type: ignore[arg-type]
    assert format_date(date(2026, 12, 28)) == "2026년 12월 28일(월)"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_datetime(datetime(2026, 12, 20, 14, 3))


def test_html_lists_every_holder_with_evidence_and_waiver() -> None:
    page = render_html(CERT)
    assert "<title>개인정보 파기 확인서 DSR-2612-AB12CD34</title>" in page
    for holder in ("우노 서비스 DB", "(주)채널코퍼레이션(채널톡)", "문자발송대행사 A"):
        assert holder in page
    assert page.count("수탁자</td>") == 2 and page.count("자체 시스템</td>") == 1
    assert "db_delete_log.txt" in page and "SHA-256 9f86d081884c…" in page
    assert SHA[:13] not in page  # only the first 12 hex digits
    assert "2026년 12월 20일(일) 14:03" in page
    assert "면제" in page and "위탁 기간 중 해당 정보를 보관하지 않음(발송 후 즉시 파기)" in page
    assert "면제 결정: 개인정보 보호책임자 신종현" in page
    assert "2026년 12월 28일(월)" in page  # the legal deadline
    assert "2026년 12월 21일(월) 10:30" in page  # completed
    assert INCOMPLETE_BANNER not in page and "진행 중" not in page


def test_html_kept_items_basis_and_issue_line() -> None:
    page = render_html(CERT)
    assert "결제 기록" in page and "「전자상거래법」 제6조" in page
    assert "2031년 12월 15일(월)" in page
    assert LEGAL_BASIS in page
    assert "발급 일시 2026년 12월 21일(월) 11:00" in page
    assert "(주)케어랩스 CRM사업부" in page and "개인정보 보호책임자 신종현" in page


def test_html_escapes_staff_input() -> None:
    page = render_html(CERT)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_html_is_self_contained() -> None:
    page = render_html(CERT)
    assert not re.search(r"""(src|href)\s*=|@import|url\(""", page)


def test_title_for_other_request_types() -> None:
    page = render_html(replace(CERT, request_type_label="정정"))
    assert "개인정보 처리 결과 확인서" in page and "파기 확인서" not in page


def test_open_task_shows_banner_and_in_progress() -> None:
    page = render_html(OPEN)
    assert INCOMPLETE_BANNER in page
    assert "진행 중 (미완료)" in page and "미완료" in page
    failed = replace(CERT, tasks=(replace(DB_TASK, status="failed"),))
    assert INCOMPLETE_BANNER in render_html(failed)


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        render_html(replace(CERT, tasks=(replace(DB_TASK, status="maybe"),)))


def test_pdf_text_metadata_and_determinism() -> None:
    data = render_pdf(CERT)
    assert data.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) >= 1
    assert reader.metadata is not None
    assert reader.metadata.title == "개인정보 파기 확인서 DSR-2612-AB12CD34"
    assert reader.metadata.author == "(주)케어랩스 CRM사업부"
    text = _squeeze(_pdf_text(data))
    for expected in (
        "개인정보파기확인서",
        "DSR-2612-AB12CD34",
        "우노서비스DB",
        "(주)채널코퍼레이션(채널톡)",
        "문자발송대행사A",
        "위탁기간중해당정보를보관하지않음",
        "9f86d081884c",
        "결제기록",
        "2031년12월15일(월)",
        _squeeze(LEGAL_BASIS),
        "<script>alert(1)</script>",  # printed as text, not read as markup
    ):
        assert expected in text, expected
    assert INCOMPLETE_BANNER.replace(" ", "") not in text
    assert render_pdf(CERT) == data


def test_pdf_open_task_shows_banner() -> None:
    text = _squeeze(_pdf_text(render_pdf(OPEN)))
    assert _squeeze(INCOMPLETE_BANNER) in text
    assert "진행중(미완료)" in text


def test_pdf_many_holders_flow_onto_more_pages() -> None:
    tasks = tuple(replace(DB_TASK, holder_name=f"시스템 {i:02d}") for i in range(40))
    data = render_pdf(replace(CERT, tasks=tasks))
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) > 1
    text = _squeeze(_pdf_text(data))
    assert "시스템00" in text and "시스템39" in text
    assert "보유처" in _squeeze(reader.pages[1].extract_text())  # the header row repeats


def test_pdf_draws_what_the_korean_cid_encoding_lacks() -> None:
    """A macOS upload name comes decomposed (NFD); U+00B7 has no code in UniKS-UCS2-H."""
    nfd = unicodedata.normalize("NFD", "파기_캡처.png")
    task = replace(DB_TASK, evidence=(EvidenceFile(name=nfd, sha256=SHA, size=10),))
    text = _pdf_text(render_pdf(replace(CERT, tasks=(task,))))
    assert "파기_캡처.png" in _squeeze(text)
    assert "복구\u30fb재생" in text and "\u00b7" not in text  # KS X 1001's middle dot instead
