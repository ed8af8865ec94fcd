"""Data received from another controller (Decree art. 43(2)): a granted correction or deletion
of such items tells the source, the source confirms on its signed page or staff record its
answer, the request closes only then, and the certificate and the timeline show it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.policy import DEFAULT_POLICY_FILE, PolicyError, load_policy
from app.runtime import Runtime
from app.services.notices.outbox import Outbox
from app.workflows.tasks import plan_source_notices
from tests.conftest import carry_out
from tests.factories import Case
from tests.servers import SmtpServer, free_port

Headers = Callable[..., dict[str, str]]

# Two synthetic sources: one reached by e-mail (finds records by e-mail only), one by phone.
SOURCES = """
[[source_controllers]]
code = "partner_registry"
name = "가상제휴협회"
received_how = "제휴 계약에 따라 회원 등록 시 제공받음"
email = "privacy@partner-registry.example"
identifiers = ["email"]

[[source_controllers]]
code = "phone_only_source"
name = "예시데이터센터"
received_how = "업무 협약에 따라 제공받음"
phone = "02-0000-0001"
identifiers = ["phone"]
"""


def sourced_policy(tmp_path: Path, extra: str = SOURCES, **sources: str) -> Path:
    """The shipped policy with `source` set on some 우노 items (item code -> source code)."""
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    uno = text.index('code = "uno"')
    for item, source in sources.items():
        marker = f'code = "{item}"\n'
        at = text.index(marker, uno) + len(marker)
        text = text[:at] + f'source = "{source}"\n' + text[at:]
    path = tmp_path / "sourced.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings_overrides(smtp: SmtpServer, tmp_path: Path) -> dict[str, Any]:
    policy = sourced_policy(
        tmp_path, birth_date="partner_registry", staff_mobile_phone="phone_only_source"
    )
    return {
        "smtp_url": f"smtp://127.0.0.1:{smtp.port}",
        "public_base_url": "http://testserver",
        "policy_file": policy,
    }


def mails_to(runtime: Runtime, smtp: SmtpServer, address: str) -> list[str]:
    while Outbox(runtime).run_once():
        pass
    texts = []
    for m in smtp.handler.received:
        if m.rcpt_tos == [address]:
            body = m.message.get_body()
            assert body is not None
            texts.append(str(m.message["subject"]) + "\n" + body.get_content())
    return texts


def source_tasks(case: Case) -> list[dict[str, Any]]:
    return [t for t in case.tasks()["items"] if t["kind"] == "notify_source"]


HOLDER_ACTIONS = {
    "delete": {"action": "deleted", "method": "irreversible_deletion"},
    "separate": {"action": "separated", "method": "separate_storage"},
}


def carry_out_holders(case: Case) -> None:
    """Every holder's task done, as each holder would; the sources' tasks left open."""
    for task in case.tasks()["items"]:
        if task["kind"] == "decision" and task["status"] == "open":
            kinds = {i["instruction"] for i in task["instructions"]}
            actions = [HOLDER_ACTIONS[k] for k in sorted(kinds)]
            assert (
                case.act(task["holder_code"], "complete", {"actions": actions}).status_code == 200
            )


def events(case: Case) -> list[dict[str, Any]]:
    detail = case.client.get(case.url, headers=case.agent).json()
    return list(detail["events"])


def test_a_deletion_of_received_items_tells_each_source_and_closes_only_when_both_answered(
    client: TestClient, staff_headers: Headers, runtime: Runtime, smtp: SmtpServer
) -> None:
    case = Case(
        client, staff_headers, type="deletion",
        items=["birth_date", "staff_mobile_phone", "manager_name"],
    )  # fmt: skip
    case.decide_and_approve()
    tasks = {t["holder_code"]: t for t in source_tasks(case)}
    assert set(tasks) == {"partner_registry", "phone_only_source"}
    assert tasks["partner_registry"]["instructions"] == [
        {"item": "birth_date", "instruction": "notify_source"}
    ]
    assert tasks["phone_only_source"]["holder_kind"] == "source"
    assert tasks["phone_only_source"]["contact_email"] is None
    opened = [e for e in events(case) if e["kind"] == "source_notice_opened"]
    assert opened and opened[0]["data"]["sources"] == ["partner_registry", "phone_only_source"]

    [mail] = mails_to(runtime, smtp, "privacy@partner-registry.example")
    assert case.ref in mail and "생년월일: 삭제" in mail and "시행령」 제43조제2항" in mail
    assert "제휴 계약에 따라 회원 등록 시 제공받음" in mail
    # Only what the source finds records by (its e-mail), and only its own item.
    assert "kim.gasang@example.com" in mail
    assert "김가상" not in mail and "010-1234-5678" not in mail and "직원 휴대전화" not in mail

    # Every holder has acted: the request still waits for the sources.
    carry_out_holders(case)
    assert case.status() == "executing"

    link = re.search(r"http://testserver(/tasks/confirm\?token=\S+)", mail)
    assert link is not None
    page = client.get(link.group(1))
    assert page.status_code == 200 and "정정ㆍ삭제 통지 확인" in page.text
    assert "생년월일" in page.text and "직원 휴대전화" not in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert csrf and token
    form = {
        "csrf_token": csrf.group(1),
        "token": token.group(1),
        "method_source_informed": "source_confirmed",
        "note": "당사 명부에서도 삭제함",
    }
    done = client.post("/tasks/confirm", data=form)
    assert done.status_code == 200 and "통지를 받으셨음을 기록했습니다" in done.text
    confirmed = {t["holder_code"]: t for t in source_tasks(case)}["partner_registry"]
    assert (confirmed["status"], confirmed["completed_by"]) == ("done", "holder:partner_registry")
    assert case.status() == "executing"  # the phone-only source has not answered yet

    # The phone-only source answered by phone: staff record it with the answer as evidence.
    wrong = case.act(
        "phone_only_source", "complete",
        {"actions": [{"action": "deleted", "method": "irreversible_deletion"}]},
    )  # fmt: skip
    assert wrong.status_code == 422 and wrong.json()["code"] == "action_not_asked"
    answered = case.act(
        "phone_only_source", "complete",
        {"actions": [{"action": "source_informed", "method": "source_replied"}],
         "note": "전화로 통지, 담당자가 받았음을 확인"},
    )  # fmt: skip
    assert answered.status_code == 200, answered.text
    assert case.status() == "completed"

    results = [e for e in events(case) if e["kind"] == "source_notice_result"]
    assert [r["data"]["source"] for r in results] == ["partner_registry", "phone_only_source"]
    cert = client.get(f"{case.url}/certificate", headers=case.agent)
    assert "아직 완료되지 않은" not in cert.text
    assert "가상제휴협회" in cert.text and "예시데이터센터" in cert.text
    assert "제공받은 곳(출처)" in cert.text
    assert "제공한 곳이 전자우편·공문·전화로 회신함" in cert.text


def test_a_correction_tells_the_source_the_new_value_and_not_the_old_one(
    client: TestClient, staff_headers: Headers, runtime: Runtime, smtp: SmtpServer
) -> None:
    correction = {"item": "birth_date", "current_value": "1990-05-01",
                  "requested_value": "1990-05-02"}  # fmt: skip
    case = Case(client, staff_headers, type="correction", correction=correction)
    case.write("decision", {"outcome": "granted", "changes": "생년월일을 1990-05-02로 정정"})
    [task] = source_tasks(case)
    assert task["holder_code"] == "partner_registry"
    [mail] = mails_to(runtime, smtp, "privacy@partner-registry.example")
    assert "생년월일: 정정" in mail and "생년월일: 1990-05-02 (정정 후 값)" in mail
    assert "1990-05-01" not in mail


def test_only_corrections_and_deletions_reach_the_source(
    client: TestClient, staff_headers: Headers, runtime: Runtime, smtp: SmtpServer
) -> None:
    case = Case(client, staff_headers, type="suspension", items=["birth_date"])
    case.decide_and_approve()
    assert source_tasks(case) == []
    carry_out(client, case.ref, case.handler)
    assert case.status() == "completed"
    assert mails_to(runtime, smtp, "privacy@partner-registry.example") == []
    # A deletion of items that came from nowhere else opens no source task either.
    other = Case(client, staff_headers, type="deletion", items=["manager_name"])
    other.decide_and_approve()
    assert source_tasks(other) == []


def test_the_shipped_policy_names_no_source_and_a_bad_reference_does_not_load(
    tmp_path: Path,
) -> None:
    shipped = load_policy(DEFAULT_POLICY_FILE)
    assert shipped.source_controllers == ()
    assert all(i.source is None for s in shipped.services for i in s.items)
    with pytest.raises(PolicyError, match="unknown source controller 'nobody'"):
        load_policy(sourced_policy(tmp_path, birth_date="nobody"))
    unreachable = SOURCES.replace('email = "privacy@partner-registry.example"\n', "")
    with pytest.raises(PolicyError, match="neither email nor phone"):
        load_policy(sourced_policy(tmp_path, extra=unreachable))


def test_a_source_that_cannot_be_reached_is_waived_by_the_officer_with_the_reason_on_record(
    client: TestClient, staff_headers: Headers
) -> None:
    case = Case(client, staff_headers, type="deletion", items=["staff_mobile_phone"])
    case.decide_and_approve()
    carry_out_holders(case)
    assert case.status() == "executing"
    reason = "제공한 기관이 폐업하여 통지할 곳이 없음"
    handler = case.act("phone_only_source", "waive", {"reason": reason}, who=case.handler)
    assert handler.status_code == 403  # only the privacy officer waives
    waived = case.act("phone_only_source", "waive", {"reason": reason}, who=case.officer)
    assert waived.status_code == 200, waived.text
    assert case.status() == "completed"
    [result] = [e for e in events(case) if e["kind"] == "source_notice_result"]
    assert result["data"]["status"] == "waived"
    cert = client.get(f"{case.url}/certificate", headers=case.agent)
    assert "예시데이터센터" in cert.text and reason in cert.text


def test_the_rule_one_task_per_source_of_the_items_corrected_or_deleted(tmp_path: Path) -> None:
    policy = load_policy(
        sourced_policy(
            tmp_path, birth_date="partner_registry", staff_mobile_phone="phone_only_source",
            manager_email="partner_registry",
        )
    )  # fmt: skip
    service = policy.service("uno")
    assert service is not None
    acted = ["manager_name", "manager_email", "birth_date", "staff_mobile_phone"]
    plans = plan_source_notices("deletion", acted_on=acted, items=service.items)
    assert [(p.source_code, [i for i, _ in p.instructions]) for p in plans] == [
        ("partner_registry", ["manager_email", "birth_date"]),
        ("phone_only_source", ["staff_mobile_phone"]),
    ]
    # Kept items are not in `acted_on`; suspension, withdrawal and access reach no source.
    assert plan_source_notices("deletion", acted_on=["manager_name"], items=service.items) == []
    for other in ("suspension", "consent_withdrawal", "access"):
        assert plan_source_notices(other, acted_on=acted, items=service.items) == []


def test_a_source_is_told_the_action_is_planned_and_reads_only_its_own_items_new_value(
    client: TestClient, staff_headers: Headers, runtime: Runtime, smtp: SmtpServer
) -> None:
    # The subject corrects a manager's name (not from the source); staff also correct the birth
    # date (from the source) and describe both changes in one free text.
    correction = {"item": "manager_name", "current_value": "이가상",
                  "requested_value": "박가상"}  # fmt: skip
    case = Case(
        client, staff_headers, type="correction", correction=correction,
        items=["manager_name", "birth_date"],
    )  # fmt: skip
    case.write(
        "decision",
        {"outcome": "granted", "items_granted": ["manager_name", "birth_date"],
         "changes": "담당자 이름을 박가상으로, 생년월일을 1990-05-02로 정정"},
    )  # fmt: skip
    [task] = source_tasks(case)
    assert task["holder_code"] == "partner_registry"
    [mail] = mails_to(runtime, smtp, "privacy@partner-registry.example")
    # The holders have not acted yet: the notice does not claim it was done.
    assert "조치하였습니다" not in mail and "조치할 예정입니다" in mail
    # Neither the other item's new value nor the staff's free text reaches the source.
    assert "박가상" not in mail and "이가상" not in mail and "담당자 이름" not in mail
    assert "1990-05-02" not in mail
    assert "정정한 값은 정보보안팀이 따로 알려 드립니다" in mail
