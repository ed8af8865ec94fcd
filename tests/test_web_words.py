"""The words a person reads on the web pages: one name for the status page, the notices' own
outcome words, no developer talk, no "은(는)" fallbacks, a title that matches the heading."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.web.labels import outcome_ko
from tests.factories import csrf_token, dd_after, form_fields, post_form

FALLBACKS = re.compile(r"\((?:는|를|가|와|과|을|은|이|으)\)")
DEVELOPER_TALK = ("자바스크립트", "JavaScript", "(403)", "(404)", "attachment_", "HTTP")


def visible(html: str) -> str:
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


def title_and_heading(html: str) -> tuple[str, str]:
    title = re.search(r"<title>([^<]*)</title>", html)
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", html, flags=re.S)
    assert title and heading
    return title.group(1).split(" — ")[0].strip(), " ".join(visible(heading.group(1)).split())


def pages(client: TestClient) -> dict[str, str]:
    filed = post_form(client, form_fields(csrf_token(client)))
    assert filed.status_code == 200
    lookup = client.get("/status").text
    token = csrf_token(client, "/status")
    wrong = client.post(
        "/status", data={"csrf_token": token, "reference": "DSR-2612-ZZZZZZZZ", "access_code": "A"}
    )
    forbidden = client.post("/status", data={"reference": "x", "access_code": "y"})
    opened = {
        "csrf_token": token,
        "reference": dd_after(filed.text, "접수번호"),
        "access_code": dd_after(filed.text, "확인코드"),
    }
    return {
        "status": client.post("/status", data=opened).text,
        "landing": client.get("/").text,
        "form": client.get("/form").text,
        "confirmation": filed.text,
        "status lookup": lookup,
        "status refused": wrong.text,
        "forbidden": forbidden.text,
    }


def test_pages_speak_a_persons_words(client: TestClient) -> None:
    for name, html in pages(client).items():
        text = visible(html)
        assert "처리 상황 조회" not in text, name
        assert '<a href="/status">요청 조회</a>' in html, name  # one name, in the menu
        for word in DEVELOPER_TALK:
            assert word not in text, (name, word)
        assert not FALLBACKS.search(text), (name, FALLBACKS.search(text))
        assert "인용" not in text, name


@pytest.mark.parametrize(
    ("page", "title"),
    [("/", "개인정보 열람등요구 안내"), ("/status", "요청 조회")],
)
def test_the_title_says_what_the_heading_says(client: TestClient, page: str, title: str) -> None:
    got_title, heading = title_and_heading(client.get(page).text)
    assert got_title == title and heading.endswith(title)


def test_the_status_page_and_the_links_to_it_share_one_name(client: TestClient) -> None:
    seen = pages(client)
    assert "요청 조회</a> 화면" in seen["confirmation"]
    assert title_and_heading(seen["status"]) == ("요청 조회", "요청 조회")


@pytest.mark.parametrize(
    ("outcome", "request_type", "words"),
    [
        ("partially_granted", "access", "일부 열람"),
        ("partially_granted", "deletion", "일부 조치"),
        ("partially_granted", "correction", "일부 조치"),
        ("refused", "access", "열람 거절"),
        ("refused", "suspension", "거절"),
        ("granted", "deletion", "요구대로 처리"),
        ("no_data_held", "access", "보유한 개인정보 없음"),
    ],
)
def test_outcomes_use_the_notices_own_words(outcome: str, request_type: str, words: str) -> None:
    assert outcome_ko(outcome, request_type) == words
