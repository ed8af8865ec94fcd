"""Staff console sign-in: enrolment, password and TOTP, lockout, session timeouts, fixation,
CSRF, TOTP replay, open redirects, headers and the access log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.main import create_app
from app.models.console import SignInLog
from app.settings import Settings
from tests.conftest import Clock
from tests.console_helpers import (
    PASSWORD,
    csrf_of,
    enrol,
    new_link,
    secret_of,
    session_cookie,
    sign_in,
)

NAME = "보안 담당 가상"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # The test client speaks plain HTTP; the Secure flag has its own test below.
    return {"console_cookie_secure": False, "console_max_failures": 3}


def _events(db: Session) -> list[str]:
    db.expire_all()
    return [e.event for e in db.exec(select(SignInLog).order_by(col(SignInLog.id)))]


# --- enrolment ------------------------------------------------------------------------------


def test_an_enrolled_person_signs_in_with_password_and_code_and_sees_the_queue(
    client: TestClient, runtime: Any, clock: Clock, db: Session
) -> None:
    totp = enrol(client, runtime, NAME)
    clock.advance(seconds=30)
    done = sign_in(client, NAME, totp.at(clock()))
    assert (done.status_code, done.headers["location"]) == (303, "/staff")
    queue = client.get("/staff")
    assert queue.status_code == 200
    assert "처리 대기열" in queue.text and f"{NAME} (정보보안팀)" in queue.text
    assert _events(db) == ["enrolled", "sign_in"]


def test_the_enrolment_page_shows_a_qr_code_drawn_here_and_the_secret_as_text(
    client: TestClient, runtime: Any
) -> None:
    token = new_link(runtime, NAME)
    page = client.get("/staff/enrol", params={"token": token})
    assert page.status_code == 200
    assert "<svg" in page.text and "<img" not in page.text and "<script" not in page.text
    assert len(secret_of(page.text)) >= 16


def test_an_enrolment_link_works_once_and_expires(
    client: TestClient, runtime: Any, clock: Clock
) -> None:
    enrol(client, runtime, NAME)
    # The link of a second person, opened after its hours have passed.
    late = new_link(runtime, "기한 지난 사람")
    clock.advance(hours=runtime.settings.console_enrolment_hours, seconds=1)
    assert client.get("/staff/enrol", params={"token": late}).status_code == 404
    assert client.get("/staff/enrol", params={"token": "rdk_never-issued"}).status_code == 404


def test_a_used_enrolment_link_is_refused(client: TestClient, runtime: Any, clock: Clock) -> None:
    token = new_link(runtime, NAME)
    page = client.get("/staff/enrol", params={"token": token})
    totp = pyotp.TOTP(secret_of(page.text))
    body = {
        "csrf_token": csrf_of(page.text),
        "token": token,
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "code": totp.at(clock()),
    }
    assert client.post("/staff/enrol", data=body, follow_redirects=False).status_code == 303
    again = client.post("/staff/enrol", data=body, follow_redirects=False)
    assert again.status_code == 404 and "등록 링크를 쓸 수 없습니다" in again.text


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("short pw", "short pw", "12자 이상이어야 합니다"),
        (PASSWORD, PASSWORD + "x", "비밀번호 확인이 비밀번호와 다릅니다"),
        ("보안담당가상 1234567890", "보안담당가상 1234567890", "이름을 넣을 수 없습니다"),
        ("aaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaa", "되풀이한"),
    ],
)
def test_a_weak_password_is_refused_with_the_rule_it_breaks(
    client: TestClient, runtime: Any, clock: Clock, password: str, confirm: str, message: str
) -> None:
    token = new_link(runtime, NAME)
    page = client.get("/staff/enrol", params={"token": token})
    resp = client.post(
        "/staff/enrol",
        data={
            "csrf_token": csrf_of(page.text),
            "token": token,
            "password": password,
            "password_confirm": confirm,
            "code": pyotp.TOTP(secret_of(page.text)).at(clock()),
        },
    )
    assert resp.status_code == 422 and message in resp.text
    assert 'id="password-error"' in resp.text and 'aria-invalid="true"' in resp.text
    # Nothing was set: the link still works.
    assert client.get("/staff/enrol", params={"token": token}).status_code == 200


def test_enrolment_needs_a_right_code_from_the_app(
    client: TestClient, runtime: Any, clock: Clock
) -> None:
    token = new_link(runtime, NAME)
    page = client.get("/staff/enrol", params={"token": token})
    resp = client.post(
        "/staff/enrol",
        data={
            "csrf_token": csrf_of(page.text),
            "token": token,
            "password": PASSWORD,
            "password_confirm": PASSWORD,
            "code": "000000",
        },
    )
    assert resp.status_code == 422 and "인증 코드가 맞지 않습니다" in resp.text


# --- wrong tries and the lockout ------------------------------------------------------------


def test_a_wrong_password_or_unknown_name_gets_the_same_answer(
    client: TestClient, runtime: Any, clock: Clock, db: Session
) -> None:
    enrol(client, runtime, NAME)
    wrong = sign_in(client, NAME, "000000", password="not the password at all")
    unknown = sign_in(client, "없는 사람", "000000")
    for resp in (wrong, unknown):
        assert resp.status_code == 401 and "이름 또는 비밀번호가 맞지 않습니다" in resp.text
    assert _events(db) == ["enrolled", "sign_in_failed", "sign_in_failed"]
    # The name typed for an unknown account is not kept.
    db.expire_all()
    assert db.exec(select(SignInLog).where(col(SignInLog.staff_id).is_(None))).all()


def test_the_account_locks_after_the_failures_allowed_and_opens_after_the_lock_time(
    client: TestClient, runtime: Any, clock: Clock, db: Session
) -> None:
    totp = enrol(client, runtime, NAME)
    for _ in range(2):
        assert sign_in(client, NAME, "0", password="wrong password 1").status_code == 401
    locked = sign_in(client, NAME, "0", password="wrong password 1")
    assert locked.status_code == 429 and "계정을 잠갔습니다" in locked.text
    # While locked, even the right password and code do not get in.
    clock.advance(seconds=30)
    refused = sign_in(client, NAME, totp.at(clock()))
    assert refused.status_code == 429
    assert _events(db)[-1] == "sign_in_locked"
    clock.advance(minutes=runtime.settings.console_lock_minutes)
    ok = sign_in(client, NAME, totp.at(clock()))
    assert ok.status_code == 303 and client.get("/staff").status_code == 200


def test_wrong_codes_count_towards_the_lockout(
    client: TestClient, runtime: Any, clock: Clock
) -> None:
    totp = enrol(client, runtime, NAME)
    clock.advance(seconds=30)
    for _ in range(2):
        resp = sign_in(client, NAME, "123456" if totp.at(clock()) != "123456" else "654321")
        assert resp.status_code == 401 and "인증 코드가 맞지 않거나" in resp.text
    resp = sign_in(client, NAME, "000001" if totp.at(clock()) != "000001" else "000002")
    assert resp.status_code == 429 and "계정을 잠갔습니다" in resp.text
    assert client.get("/staff", follow_redirects=False).status_code == 303


# --- TOTP replay ----------------------------------------------------------------------------


def test_a_code_cannot_be_used_twice_within_its_step(
    client: TestClient, runtime: Any, clock: Clock
) -> None:
    totp = enrol(client, runtime, NAME)
    # The code typed at enrolment cannot also sign in.
    replay = sign_in(client, NAME, totp.at(clock()))
    assert replay.status_code == 401
    clock.advance(seconds=30)
    code = totp.at(clock())
    assert sign_in(client, NAME, code).status_code == 303
    # Someone who saw it over a shoulder, in another browser, 10 seconds later.
    clock.advance(seconds=10)
    with TestClient(client.app) as other:
        assert sign_in(other, NAME, code).status_code == 401
        # The next step's code works.
        clock.advance(seconds=30)
        assert sign_in(other, NAME, totp.at(clock())).status_code == 303


# --- sessions -------------------------------------------------------------------------------


def test_without_a_session_the_console_sends_to_sign_in_and_back_after_it(
    client: TestClient, runtime: Any, clock: Clock
) -> None:
    resp = client.get("/staff?view=all&type=access", follow_redirects=False)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/staff/login?next=%2Fstaff%3Fview%3Dall%26type%3Daccess"
    totp = enrol(client, runtime, NAME)
    clock.advance(seconds=30)
    done = sign_in(client, NAME, totp.at(clock()), next_path="/staff?view=all&type=access")
    assert done.headers["location"] == "/staff?view=all&type=access"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/staff",
        "https://evil.example/staff",
        "/\\evil.example",
        "/staff/../v1/requests",
        "/status",
        "http:/staff",
        " /staff",
        "/staff\r\nSet-Cookie: x=1",
    ],
)
def test_sign_in_never_redirects_off_the_console(
    client: TestClient, runtime: Any, clock: Clock, target: str
) -> None:
    totp = enrol(client, runtime, NAME)
    clock.advance(seconds=30)
    done = sign_in(client, NAME, totp.at(clock()), next_path=target)
    assert (done.status_code, done.headers["location"]) == (303, "/staff")


def test_a_session_ends_after_the_idle_time_and_after_the_absolute_time(
    client: TestClient, runtime: Any, clock: Clock, db: Session
) -> None:
    idle = runtime.settings.console_idle_minutes
    client.cookies.set("rd_staff", session_cookie(runtime, NAME, "security"), path="/staff")
    clock.advance(minutes=idle - 1)
    assert client.get("/staff").status_code == 200
    clock.advance(minutes=idle)
    assert client.get("/staff", follow_redirects=False).status_code == 303
    assert _events(db) == ["session_expired"]
    # Busy all day: the absolute limit ends it anyway.
    client.cookies.set("rd_staff", session_cookie(runtime, NAME, "security"), path="/staff")
    for _ in range(runtime.settings.console_absolute_hours * 60 // (idle - 1)):
        assert client.get("/staff").status_code == 200
        clock.advance(minutes=idle - 1)
    clock.advance(minutes=idle - 1)
    assert client.get("/staff", follow_redirects=False).status_code == 303


def test_sign_in_rotates_the_session_so_a_planted_cookie_is_worthless(
    client: TestClient, runtime: Any, clock: Clock
) -> None:
    totp = enrol(client, runtime, NAME)
    clock.advance(seconds=30)
    # An attacker plants their own signed-in session in the victim's browser, then watches
    # for the victim's sign-in.
    planted = session_cookie(runtime, "공격자", "agent")
    client.cookies.set("rd_staff", planted, domain="testserver.local", path="/staff")
    form = client.get("/staff/login")
    step1 = client.post(
        "/staff/login",
        data={"csrf_token": csrf_of(form.text), "name": NAME, "password": PASSWORD},
        follow_redirects=False,
    )
    half = client.cookies.get("rd_staff")
    assert half and half != planted
    page = client.get("/staff/login/code")
    client.post(
        "/staff/login/code",
        data={"csrf_token": csrf_of(page.text), "code": totp.at(clock())},
        follow_redirects=False,
    )
    final = client.cookies.get("rd_staff")
    assert step1.status_code == 303 and final not in (planted, half)
    with TestClient(client.app) as attacker:
        for old in (planted, half):
            attacker.cookies.set("rd_staff", old, path="/staff")
            assert attacker.get("/staff", follow_redirects=False).status_code == 303
    assert f"{NAME} (정보보안팀)" in client.get("/staff").text


def test_a_forged_or_unsigned_cookie_is_refused(client: TestClient, runtime: Any) -> None:
    real = session_cookie(runtime, NAME, "security")
    token, _, _ = real.partition(".")
    for value in (token, token + ".AAAA", "x" * 500):
        client.cookies.set("rd_staff", value, path="/staff")
        assert client.get("/staff", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session_and_is_logged(
    client: TestClient, runtime: Any, clock: Clock, db: Session
) -> None:
    totp = enrol(client, runtime, NAME)
    clock.advance(seconds=30)
    sign_in(client, NAME, totp.at(clock()))
    cookie = client.cookies.get("rd_staff")
    page = client.get("/staff")
    out = client.post(
        "/staff/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert (out.status_code, out.headers["location"]) == (303, "/staff/login?notice=signed_out")
    assert 'rd_staff=""' in out.headers["set-cookie"]
    assert "로그아웃했습니다" in client.get(out.headers["location"]).text
    with TestClient(client.app) as replay:
        replay.cookies.set("rd_staff", cookie or "", path="/staff")
        assert replay.get("/staff", follow_redirects=False).status_code == 303
    assert _events(db) == ["enrolled", "sign_in", "sign_out"]


# --- CSRF, framing, cookies -----------------------------------------------------------------


def test_every_console_form_needs_the_csrf_token(
    client: TestClient, runtime: Any, clock: Clock
) -> None:
    token = new_link(runtime, NAME)
    client.get("/staff/login")  # the CSRF cookie is set; the field is left out below
    bodies = {
        "/staff/login": {"name": NAME, "password": PASSWORD},
        "/staff/login/code": {"code": "123456"},
        "/staff/enrol": {"token": token, "password": PASSWORD, "password_confirm": PASSWORD},
        "/staff/logout": {},
    }
    client.cookies.set("rd_staff", session_cookie(runtime, "다른 직원", "agent"), path="/staff")
    for url, body in bodies.items():
        resp = client.post(url, data=body, follow_redirects=False)
        assert resp.status_code == 403 and "보안 확인값" in resp.text, url
    # The session survived the refused sign-out, and the link was not used.
    assert client.get("/staff").status_code == 200
    assert client.get("/staff/enrol", params={"token": token}).status_code == 200


def test_a_cross_site_post_is_refused_even_with_the_token(client: TestClient, runtime: Any) -> None:
    form = client.get("/staff/login")
    resp = client.post(
        "/staff/login",
        data={"csrf_token": csrf_of(form.text), "name": NAME, "password": PASSWORD},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert resp.status_code == 403


def test_console_pages_cannot_be_framed_run_no_script_and_are_not_cached(
    client: TestClient, runtime: Any
) -> None:
    client.cookies.set("rd_staff", session_cookie(runtime, NAME, "officer"), path="/staff")
    for url in ("/staff/login", "/staff"):
        resp = client.get(url)
        csp = resp.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'none'" in csp
        assert resp.headers["x-frame-options"] == "DENY"
        assert resp.headers["cache-control"] == "no-store"


def test_the_session_cookie_is_httponly_samesite_strict_and_secure_by_default(
    settings: Settings, clock: Clock
) -> None:
    secure = settings.model_copy(update={"console_cookie_secure": True})
    app = create_app(secure, clock=clock)
    runtime = app.state.runtime
    with TestClient(app, base_url="https://testserver") as client:
        enrol(client, runtime, NAME)
        form = client.get("/staff/login")
        resp = client.post(
            "/staff/login",
            data={"csrf_token": csrf_of(form.text), "name": NAME, "password": PASSWORD},
            follow_redirects=False,
        )
        cookie = resp.headers["set-cookie"].lower()
        assert cookie.startswith("rd_staff=")
        for flag in ("httponly", "secure", "samesite=strict", "path=/staff"):
            assert flag in cookie, flag


# --- the access log -------------------------------------------------------------------------


def test_sign_ins_failures_and_sign_outs_are_in_the_officers_access_log(
    client: TestClient, runtime: Any, clock: Clock, staff_headers: Any
) -> None:
    totp = enrol(client, runtime, NAME)
    sign_in(client, NAME, "0", password="wrong password here")
    clock.advance(seconds=30)
    sign_in(client, NAME, totp.at(clock()))
    page = client.get("/staff")
    client.post("/staff/logout", data={"csrf_token": csrf_of(page.text)})
    day = (clock() + timedelta(hours=9)).date().isoformat()
    log = client.get(
        "/v1/staff/audit/access-log",
        params={"from": day, "to": day},
        headers=staff_headers("officer"),
    )
    assert log.status_code == 200, log.text
    rows = [r for r in log.json()["items"] if r["kind"] == "session"]
    assert [r["action"] for r in rows] == ["enrolled", "sign_in_failed", "sign_in", "sign_out"]
    assert {r["staff"] for r in rows} == {NAME}
    assert all(r["client_ip"] == "127.0.0.1" for r in rows)
    csv = client.get(
        "/v1/staff/audit/access-log",
        params={"from": day, "to": day, "format": "csv"},
        headers=staff_headers("officer"),
    )
    assert "접속" in csv.text and "sign_in_failed" in csv.text


def test_one_address_trying_many_accounts_is_slowed_by_the_public_rate_limit(
    settings: Settings, clock: Clock
) -> None:
    limited = settings.model_copy(update={"public_rate_limit_per_minute": 5})
    with TestClient(create_app(limited, clock=clock), client=("192.0.2.7", 5000)) as client:
        answers = [
            client.post("/staff/login", data={"name": f"직원{i}", "password": "guess"}).status_code
            for i in range(6)
        ]
    assert answers[:5] == [403] * 5  # no form token: refused, but counted
    assert answers[5] == 429
