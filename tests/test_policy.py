"""The controller inventory (app/policy), the legal grounds table and the public catalog."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from app.catalog import build_catalog
from app.policy import DEFAULT_POLICY_FILE, Policy, PolicyError, load_policy
from app.workflows.grounds import GROUNDS, grounds_for


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(DEFAULT_POLICY_FILE)


# ---------------------------------------------------------------------------------------------
# The shipped Carelabs file against the policy text (section 3 of the 2024.9.13 policy)

AUTO_COMMON = [
    "서비스 이용기록",
    "IP 주소",
    "접속기록",
    "접속환경",
    "접속일시",
    "기기정보",
    "플랫폼 정보",
    "불량 혹은 비정상 이용기록 정보",
]

# Not in the §3 table: the e-commerce records of the services that bill customers (§1②, §2② 나 1)),
# filed as "auto" items; code -> the statutory rule that keeps them.
BILLING_RECORDS = [
    "계약·청약철회·대금결제·재화 등의 공급 기록",
    "소비자 불만 또는 분쟁처리에 관한 기록",
]
RECORD_RULES = {
    # The display and advertising a customer contracted on is kept with the contract's record.
    "contract_payment_records": ("ecommerce_contract", "ecommerce_advertising"),
    "complaint_records": ("ecommerce_complaint",),
}
# 통신사실확인자료 (통신비밀보호법 시행령 제41조제2항제1호: 전기통신일시, 사용도수): 1 year.
COMMS_FACT_ITEMS = {"access_datetime", "service_usage_records"}

EXPECTED_ITEMS = {
    "uno": {
        "required": ["담당자 이름", "관리자 전화번호", "담당자 이메일", "대표자 이름"],
        "optional": ["생년월일", "직원 휴대전화 번호"],
        "auto": ["단말기 정보", *AUTO_COMMON, *BILLING_RECORDS],
    },
    "smartcrm": {
        "required": ["담당자 전화번호", "성별", "생년월일", "연락처"],
        "optional": [],
        "auto": ["단말기 정보", *AUTO_COMMON, *BILLING_RECORDS],
    },
    "webersoft": {
        "required": ["이름", "이메일", "의사면허번호"],
        "optional": ["휴대전화 번호", "집 전화번호", "집주소"],
        "auto": ["단말기 정보", *AUTO_COMMON, *BILLING_RECORDS],
    },
    "carecrm": {
        "required": ["이름", "연락처", "병원명", "담당자명", "문의내용", "등록일시"],
        "optional": [],
        "auto": [],
    },
}

TERMINAL_COMPONENTS = {
    "uno": ["IP", "user-agent"],
    "smartcrm": ["hostname", "PrivateIP", "PublicIP", "MacAddr", "DeviceModel", "DeviceOSVersion"],
    "webersoft": ["local ip", "remote ip"],
}


def test_shipped_policy_loads_with_the_controller_facts(policy: Policy) -> None:
    c = policy.controller
    assert c.name == "(주)케어랩스" and c.unit == "CRM사업부"
    assert c.public_institution is False
    assert c.policy_effective_date == date(2024, 9, 13)
    assert (c.privacy_officer.role, c.privacy_officer.title) == ("개인정보보호책임자", "대표이사")
    assert c.privacy_officer.email == "cs@carecrm.co.kr"
    roles = {d.role: d for d in c.departments}
    for role in ("개인정보보호 담당부서", "개인정보 열람청구 접수·처리 부서"):
        assert roles[role].department == "정보보안팀"
        assert roles[role].email == "heegon.oh@carelabs.co.kr"
        assert roles[role].phone == "070-4895-0876"
    assert [(r.name, r.phone) for r in c.remedies] == [
        ("개인정보 분쟁조정위원회", "1833-6972"),
        ("개인정보침해신고센터", "118"),
        ("대검찰청", "1301"),
        ("경찰청", "182"),
    ]


def test_four_services_with_their_korean_names(policy: Policy) -> None:
    assert policy.service_codes() == ("uno", "smartcrm", "webersoft", "carecrm")
    names = {s.code: s.name for s in policy.services}
    assert names == {
        "uno": "우노",
        "smartcrm": "스마트CRM",
        "webersoft": "위버소프트",
        "carecrm": "브랜드 사이트(CARECRM)",
    }


@pytest.mark.parametrize("service_code", list(EXPECTED_ITEMS))
def test_each_service_lists_exactly_the_policy_items(policy: Policy, service_code: str) -> None:
    service = policy.service(service_code)
    assert service is not None
    for category, names in EXPECTED_ITEMS[service_code].items():
        assert [i.name for i in service.items if i.category == category] == names, category
    if service_code in TERMINAL_COMPONENTS:
        terminal = service.item("terminal_info")
        assert terminal is not None
        assert list(terminal.components) == TERMINAL_COMPONENTS[service_code]


def _by_name(policy: Policy, service_code: str, name: str) -> tuple[str, str | None, str]:
    service = policy.service(service_code)
    assert service is not None
    (item,) = [i for i in service.items if i.name == name]
    return item.category, item.context, item.code


def test_spot_checks_by_korean_name(policy: Policy) -> None:
    assert _by_name(policy, "webersoft", "의사면허번호")[0] == "required"
    assert _by_name(policy, "webersoft", "집주소")[0] == "optional"
    assert _by_name(policy, "carecrm", "문의내용") == ("required", "inquiry", "inquiry_content")
    assert _by_name(policy, "smartcrm", "연락처") == ("required", "inquiry", "inquiry_contact")
    assert _by_name(policy, "uno", "관리자 전화번호") == ("required", "registration", "admin_phone")
    assert _by_name(policy, "uno", "IP 주소") == ("auto", None, "ip_address")


def test_contexts_follow_the_collection_methods(policy: Policy) -> None:
    contexts = {s.code: [c.name for c in s.contexts] for s in policy.services}
    assert contexts == {
        "uno": ["관리자, 사용자(직원) 등록"],
        "smartcrm": ["관리자, 사용자(직원) 등록", "문의"],
        "webersoft": ["의사, 사용자(직원) 등록"],
        "carecrm": ["제품 문의, 상담"],
    }


def test_item_purposes_and_retention_follow_the_collection_context(policy: Policy) -> None:
    for service in policy.services:
        for item in service.items:
            if item.code in RECORD_RULES:
                assert item.purposes == ("service_provision",)
                assert item.retention == ("until_withdrawal", *RECORD_RULES[item.code])
            elif item.category == "auto":
                assert item.purposes == ("service_provision",)
                assert "comms_access_logs" in item.retention
                fact = "comms_fact_records" in item.retention
                assert fact == (item.code in COMMS_FACT_ITEMS), item.code
            elif item.context == "inquiry":
                assert (item.purposes, item.retention) == (("inquiry",), ("inquiry_period",))
            else:
                assert (item.purposes, item.retention) == (
                    ("member_management",),
                    ("until_withdrawal",),
                )


def test_item_code_helpers(policy: Policy) -> None:
    assert "medical_license_number" in policy.item_codes("webersoft")
    assert "medical_license_number" not in policy.item_codes("uno")
    assert policy.item_codes("carecrm") == frozenset(
        {"name", "contact", "hospital_name", "manager_name", "inquiry_content", "registered_at"}
    )
    assert policy.service("nope") is None
    assert policy.item_codes("nope") == frozenset()


def test_purposes(policy: Policy) -> None:
    assert [(p.code, p.name) for p in policy.purposes] == [
        ("member_management", "회원 가입 및 관리"),
        ("service_provision", "서비스 제공 및 기능개선"),
        ("inquiry", "문의 및 상담"),
    ]


def test_retention_rules_have_machine_durations(policy: Policy) -> None:
    rules = {r.code: r for r in policy.retention_rules}
    expected = {
        # code: (until, months, statutory, statute)
        "until_withdrawal": ("withdrawal", None, False, None),
        "ecommerce_advertising": (None, 6, True, "전자상거래 등에서의 소비자 보호에 관한 법률"),
        "ecommerce_contract": (None, 60, True, "전자상거래 등에서의 소비자 보호에 관한 법률"),
        "ecommerce_complaint": (None, 36, True, "전자상거래 등에서의 소비자 보호에 관한 법률"),
        "comms_fact_records": (None, 12, True, "통신비밀보호법"),
        "comms_access_logs": (None, 3, True, "통신비밀보호법"),
        "inquiry_period": (None, 3, False, None),
    }
    got = {code: (r.until, r.duration_months, r.statutory, r.statute) for code, r in rules.items()}
    assert got == expected
    assert rules["inquiry_period"].counted_from == "collection"
    assert [e.code for e in rules["until_withdrawal"].exceptions] == [
        "ongoing_investigation",
        "outstanding_claims",
    ]


def test_ten_processors_with_roles(policy: Policy) -> None:
    assert len(policy.processors) == 10
    names = [p.name for p in policy.processors]
    assert "(주)채널코퍼레이션(채널톡)" in names
    assert "(주)써머스플랫폼 스윗트래커" in names
    assert "효성에프엠에스(주)(효성CMS)" in names
    channel = policy.processor_for_role("channeltalk")
    sms = policy.processor_for_role("sms")
    assert channel is not None and "채널코퍼레이션" in channel.name
    assert channel.task == "고객상담"
    assert sms is not None and "스윗트래커" in sms.name
    assert sms.task == "문자메시지 발송"
    assert sum(p.task == "전자계약" for p in policy.processors) == 3


# ---------------------------------------------------------------------------------------------
# Where the data lives (holders): systems and processors per service

UNO_SYSTEM = "uno_service_db"
# The 전자계약 processors, listed (in §5 order) under every service that bills customers.
ESIGN = ["signok", "tradesign", "oksign"]


def test_every_item_of_every_service_has_a_holder(policy: Policy) -> None:
    for service in policy.services:
        held = {code for h in service.holders for code in h.items}
        assert held == {i.code for i in service.items}, service.code
        assert service.holders[0].kind == "system"  # the service's own system comes first


def test_holders_of_a_phone_number_in_file_order(policy: Policy) -> None:
    got = [h.code for h in policy.holders_of("uno", ["admin_phone"])]
    assert got == [UNO_SYSTEM, "aws", "channel_corp", "sweettracker", *ESIGN, "woori_mobile"]
    # Payment records go to the payment and contract processors, not to SMS or Channel Talk.
    payments = [h.code for h in policy.holders_of("uno", ["contract_payment_records"])]
    assert payments == [UNO_SYSTEM, "aws", "hecto_financial", "hyosung_cms", *ESIGN]
    # At least one of the items is enough; order stays the file's.
    both = [h.code for h in policy.holders_of("uno", ["contract_payment_records", "admin_phone"])]
    assert both == [h.code for h in policy.holders("uno") if h.code in set(got) | set(payments)]


def test_holders_of_without_items_means_all_and_unknowns_match_nothing(policy: Policy) -> None:
    assert policy.holders_of("uno", []) == list(policy.holders("uno"))
    assert policy.holders_of("uno", ["medical_license_number"]) == []  # a webersoft item
    assert policy.holders_of("nope", []) == []
    assert policy.holders("nope") == ()
    with pytest.raises(TypeError):
        policy.holders_of("uno", "admin_phone")


def test_star_is_spelled_out_into_the_service_items(policy: Policy) -> None:
    for service in policy.services:
        for holder in service.holders:
            assert "*" not in holder.items
    uno = policy.service("uno")
    assert uno is not None
    system = uno.holder(UNO_SYSTEM)
    aws = uno.holder("aws")
    assert system is not None and aws is not None
    assert system.items == aws.items == tuple(i.code for i in uno.items)
    assert uno.holder("google") is None and uno.holder("nope") is None
    carecrm = policy.service("carecrm")
    assert carecrm is not None
    google = carecrm.holder("google")
    assert google is not None and google.items == tuple(i.code for i in carecrm.items)


def test_holders_name_themselves_or_carry_their_processors_name(policy: Policy) -> None:
    processors = {p.code: p for p in policy.processors}
    uno = policy.holders("uno")
    assert (uno[0].name, uno[0].kind, uno[0].department) == (
        "우노 서비스 DB",
        "system",
        "우노 개발팀",
    )
    for service in policy.services:
        for holder in service.holders:
            assert holder.name and holder.identifiers and holder.email and not holder.api_url
            if holder.kind == "processor":
                assert holder.processor is not None
                assert holder.name == processors[holder.processor].name
            else:
                assert holder.processor is None and holder.department
    channel = next(h for h in uno if h.code == "channel_corp")
    assert channel.name == "(주)채널코퍼레이션(채널톡)"
    assert channel.email == "privacy@channel.io"


def test_every_processor_of_the_policy_holds_something(policy: Policy) -> None:
    used = {h.processor for s in policy.services for h in s.holders if h.processor}
    assert used == {p.code for p in policy.processors}
    # Hosting processors: our own team purges backups in our account (see the file's comment).
    assert {h.email for s in policy.services for h in s.holders if h.code in ("aws", "google")} <= {
        "infra@carelabs.co.kr",
        "marketing@carelabs.co.kr",
    }


def test_the_data_map_says_it_is_an_assumption() -> None:
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    assert "ASSUMPTION to be confirmed by Carelabs (정보보안팀)" in text


def test_no_third_party_provision_and_the_request_types(policy: Policy) -> None:
    assert policy.third_party_provision.recipients == ()
    assert "제17조 및 제18조" in policy.third_party_provision.note
    assert [(t.code, t.label) for t in policy.rights.request_types] == [
        ("access", "열람"),
        ("correction", "정정"),
        ("deletion", "삭제"),
        ("suspension", "처리정지"),
        ("consent_withdrawal", "동의 철회"),
        # Art. 37-2
        ("automated_decision_refusal", "자동화된 결정 거부"),
        ("automated_decision_explanation", "자동화된 결정 설명"),
        ("automated_decision_review", "자동화된 결정 검토"),
    ]


def test_policy_models_are_frozen(policy: Policy) -> None:
    with pytest.raises(ValueError, match="frozen"):
        policy.controller.public_institution = True  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# Another controller's file, and every way a file can be wrong

MINIMAL = """
[controller]
name = "테스트공단"
public_institution = true
policy_effective_date = 2025-01-01

[controller.privacy_officer]
code = "officer"
role = "개인정보보호책임자"
email = "officer@example.org"

[[purposes]]
code = "membership"
name = "회원 관리"
description = "회원 관리 목적"

[[retention_rules]]
code = "until_withdrawal"
name = "회원 정보"
period = "탈퇴 시까지"
until = "withdrawal"
statutory = false

[[services]]
code = "portal"
name = "포털"

[[services.items]]
code = "email"
name = "이메일"
category = "required"
purposes = ["membership"]
retention = ["until_withdrawal"]

[[services.holders]]
code = "portal_db"
name = "포털 DB"
kind = "system"
items = ["*"]
department = "정보화팀"
email = "it@example.org"
identifiers = ["email"]

[[services.holders]]
code = "cloud"
kind = "processor"
processor = "cloud"
items = ["email"]
email = "privacy@cloud.example"
identifiers = ["email", "member_id"]

[[processors]]
code = "cloud"
name = "클라우드(주)"
task = "데이터 보관"
retention = "계약 종료 시"

[third_party_provision]
note = "제3자에게 제공하지 않습니다."

[rights]
intake_contact = "officer"
objection_contact = "officer"

[[rights.request_types]]
code = "access"
label = "열람"

[[rights.request_types]]
code = "suspension"
label = "처리정지"
"""

ITEM = """
[[services.items]]
code = "email"
name = "이메일"
category = "required"
purposes = ["membership"]
retention = ["until_withdrawal"]
"""


HOLDERS = """
[[services.holders]]
code = "portal_db"
name = "포털 DB"
kind = "system"
items = ["*"]
department = "정보화팀"
email = "it@example.org"
identifiers = ["email"]

[[services.holders]]
code = "cloud"
kind = "processor"
processor = "cloud"
items = ["email"]
email = "privacy@cloud.example"
identifiers = ["email", "member_id"]
"""


def _after(anchor: str, extra: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert anchor in text
        return text.replace(anchor, anchor + extra, 1)

    return edit


def _swap(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text
        return text.replace(old, new, 1)

    return edit


def _chain(*edits: Callable[[str], str]) -> Callable[[str], str]:
    def edit(text: str) -> str:
        for one in edits:
            text = one(text)
        return text

    return edit


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "acme.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_another_controller_file_loads(tmp_path: Path) -> None:
    other = load_policy(_write(tmp_path, MINIMAL))
    assert other.controller.public_institution is True
    assert other.service_codes() == ("portal",)
    assert other.item_codes("portal") == frozenset({"email"})
    # "*" spelled out; the processor holder takes the processor's name.
    assert [(h.code, h.name, h.items) for h in other.holders("portal")] == [
        ("portal_db", "포털 DB", ("email",)),
        ("cloud", "클라우드(주)", ("email",)),
    ]


def test_a_holder_may_be_reached_by_api_alone_and_may_name_itself(tmp_path: Path) -> None:
    edit = _chain(
        _swap(
            'email = "privacy@cloud.example"',
            'name = "클라우드 백업"\nemail = ""\napi_url = "https://cloud.example/v1/erasure"',
        ),
        _swap('department = "정보화팀"', 'department = ""'),
    )
    other = load_policy(_write(tmp_path, edit(MINIMAL)))
    cloud = other.holders_of("portal", ["email"])[1]
    assert (cloud.name, cloud.email, cloud.api_url) == (
        "클라우드 백업",
        None,
        "https://cloud.example/v1/erasure",
    )
    assert other.holders("portal")[0].department is None  # blank means unset


SERVICE = (
    """
[[services]]
code = "portal"
name = "다른 포털"
"""
    + ITEM
    + HOLDERS
)

PURPOSE = """
[[purposes]]
code = "membership"
name = "회원 관리"
description = "중복"
"""

RULE = """
[[retention_rules]]
code = "until_withdrawal"
name = "회원 정보"
period = "탈퇴 시까지"
until = "withdrawal"
statutory = false
"""

PROCESSOR = """
[[processors]]
code = "cloud"
name = "다른(주)"
task = "문자 발송"
retention = "계약 종료 시"
"""

# case: (edit of MINIMAL, fragments the message must contain besides the file path)
BAD_FILES: dict[str, tuple[Callable[[str], str], list[str]]] = {
    "toml_syntax": (_after("[controller]", "\nname = "), ["invalid TOML", "line"]),
    "schema_bad_category": (
        _swap('category = "required"', 'category = "mandatory"'),
        ["services[portal].items[email].category", "'mandatory'"],
    ),
    "schema_unknown_key": (
        _after("public_institution = true", '\ncolour = "red"'),
        ["controller.colour", "Extra inputs are not permitted"],
    ),
    "schema_missing_field": (_swap('task = "데이터 보관"\n', ""), ["processors[cloud].task"]),
    "schema_bad_date": (
        _swap("2025-01-01", '"someday"'),
        ["controller.policy_effective_date"],
    ),
    "schema_unofferable_type": (
        _swap('code = "suspension"', 'code = "objection"'),
        ["rights.request_types[objection].code", "'objection' cannot be offered"],
    ),
    "duplicate_service": (
        _after(HOLDERS, SERVICE),
        ["duplicate service code(s): 'portal'"],
    ),
    "duplicate_item": (
        _after('retention = ["until_withdrawal"]\n', ITEM),
        ["services[portal]", "duplicate item (service 'portal') code(s): 'email'"],
    ),
    "duplicate_purpose": (
        _after('description = "회원 관리 목적"\n', PURPOSE),
        ["duplicate purpose code(s): 'membership'"],
    ),
    "duplicate_retention": (
        _after("statutory = false\n", RULE),
        ["duplicate retention rule code(s): 'until_withdrawal'"],
    ),
    "duplicate_processor": (
        _after('retention = "계약 종료 시"\n', PROCESSOR),
        ["duplicate processor code(s): 'cloud'"],
    ),
    "unknown_purpose": (
        _swap('purposes = ["membership"]', 'purposes = ["marketing"]'),
        ["item 'email' of service 'portal'", "unknown purpose code(s): 'marketing'"],
    ),
    "unknown_retention": (
        _swap('retention = ["until_withdrawal"]', 'retention = ["forever"]'),
        ["item 'email' of service 'portal'", "unknown retention code(s): 'forever'"],
    ),
    "service_without_items": (
        _swap(ITEM, "\n"),
        ["services[portal]", "service 'portal' has no data items"],
    ),
    "item_without_purpose": (
        _swap('purposes = ["membership"]', "purposes = []"),
        ["services[portal].items[email].purposes", "must list at least one entry"],
    ),
    "unknown_contact": (
        _swap('objection_contact = "officer"', 'objection_contact = "legal"'),
        ["rights.objection_contact refers to unknown contact 'legal'"],
    ),
    "statutory_without_statute": (
        _swap("statutory = false", "statutory = true"),
        ["retention_rules[until_withdrawal]", "statutory but names no statute"],
    ),
    # Holders
    "duplicate_holder": (
        _swap('code = "cloud"\nkind', 'code = "portal_db"\nkind'),
        ["services[portal]", "duplicate holder (service 'portal') code(s): 'portal_db'"],
    ),
    "holder_bad_kind": (
        _swap('kind = "system"', 'kind = "vendor"'),
        ["services[portal].holders[portal_db].kind", "'vendor'"],
    ),
    "processor_holder_without_processor": (
        _swap('processor = "cloud"\n', ""),
        ["services[portal].holders[cloud]", "`processor` goes with kind 'processor'"],
    ),
    "system_holder_with_processor": (
        _after('kind = "system"', '\nprocessor = "cloud"'),
        ["services[portal].holders[portal_db]", "`processor` goes with kind 'processor'"],
    ),
    "holder_unknown_processor": (
        _swap('processor = "cloud"', 'processor = "crm"'),
        ["holder 'cloud' of service 'portal' refers to unknown processor 'crm'"],
    ),
    "holder_unknown_item": (
        _swap('items = ["email"]', 'items = ["email", "phone"]'),
        ["services[portal]", "holder 'cloud' of service 'portal' refers to unknown item code(s)"],
    ),
    "holder_bad_item_code": (
        _swap('items = ["email"]', 'items = ["E-mail"]'),
        ["services[portal].holders[cloud].items[0]", "'E-mail'"],
    ),
    "holder_duplicate_item": (
        _swap('items = ["email"]', 'items = ["email", "email"]'),
        ["services[portal].holders[cloud]", "duplicate item (holder 'cloud') code(s): 'email'"],
    ),
    "holder_star_not_alone": (
        _swap('items = ["*"]', 'items = ["*", "email"]'),
        ["services[portal].holders[portal_db]", "'*' must be the only entry of items"],
    ),
    "holder_without_items": (
        _swap('items = ["*"]', "items = []"),
        ["services[portal].holders[portal_db].items", "must list at least one entry"],
    ),
    "item_held_by_no_holder": (
        _chain(
            _swap('items = ["*"]', 'items = ["email"]'),
            _after(ITEM, ITEM.replace('"email"', '"phone"').replace("이메일", "전화번호")),
        ),
        ["services[portal]", "item(s) of service 'portal' held by no holder: 'phone'"],
    ),
    "service_without_holders": (
        _swap(HOLDERS, "\n"),
        ["services[portal]", "item(s) of service 'portal' held by no holder: 'email'"],
    ),
    "system_holder_without_name": (
        _swap('name = "포털 DB"\n', ""),
        ["services[portal].holders[portal_db]", "system holder 'portal_db' needs a name"],
    ),
    "holder_without_email_or_api": (
        _swap('email = "it@example.org"\n', ""),
        ["services[portal].holders[portal_db]", "holder 'portal_db' has neither email nor api_url"],
    ),
    "holder_bad_email": (
        _swap('email = "it@example.org"', 'email = "it-at-example.org"'),
        ["services[portal].holders[portal_db].email", "'it-at-example.org'"],
    ),
    "holder_plain_http_api": (
        _after('email = "it@example.org"', '\napi_url = "http://erasure.example.org"'),
        ["services[portal].holders[portal_db].api_url", "'http://erasure.example.org'"],
    ),
    "holder_without_identifiers": (
        _swap('identifiers = ["email"]', "identifiers = []"),
        ["services[portal].holders[portal_db].identifiers", "must list at least one entry"],
    ),
    "birth_date_item_in_a_service_that_collects_none": (
        _chain(
            _after('name = "포털"', "\ncollects_birth_date = false"),
            _swap('code = "email"\nname = "이메일"', 'code = "birth_date"\nname = "생년월일"'),
        ),
        ["services[portal]", "has a birth_date item but collects_birth_date = false"],
    ),
    "holder_unknown_identifier": (
        _swap('identifiers = ["email"]', 'identifiers = ["ssn"]'),
        ["services[portal].holders[portal_db].identifiers[0]", "'ssn'"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_policy_files_raise_policy_error_naming_the_entry(tmp_path: Path, case: str) -> None:
    edit, fragments = BAD_FILES[case]
    path = _write(tmp_path, edit(MINIMAL))
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    # Only the real problem is reported, not follow-on noise.
    assert message.count("\n  ") <= 1


def test_shipped_policy_says_which_services_collected_a_birth_date(policy: Policy) -> None:
    # Law rule 20: the seed policy lists 생년월일 for 우노 and 스마트CRM only.
    collects = {s.code: s.collects_birth_date for s in policy.services}
    assert collects == {"uno": True, "smartcrm": True, "webersoft": False, "carecrm": False}


def test_shipped_file_error_names_service_and_item(tmp_path: Path) -> None:
    text = DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    anchor = 'code = "medical_license_number"\nname = "의사면허번호"\ncategory = "required"'
    assert anchor in text
    path = _write(tmp_path, text.replace(anchor, anchor.replace("required", "must")))
    with pytest.raises(
        PolicyError, match=r"services\[webersoft\]\.items\[medical_license_number\]"
    ):
        load_policy(path)


def test_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(PolicyError, match="cannot read policy file") as info:
        load_policy(missing)
    assert str(missing) in str(info.value)
    assert isinstance(info.value, ValueError)


# ---------------------------------------------------------------------------------------------
# Legal grounds


def _codes(request_type: str, *, public: bool) -> list[str]:
    return [g.code for g in grounds_for(request_type, public_institution=public)]


def test_ground_codes_are_the_contract() -> None:
    assert list(GROUNDS) == [
        "35-4-1",
        "35-4-2",
        "35-4-3-ga",
        "35-4-3-na",
        "35-4-3-da",
        "35-4-3-ra",
        "35-4-3-ma",
        "36-1-proviso",
        "37-2-1",
        "37-2-2",
        "37-2-3",
        "37-2-4",
        # Art. 37-2 (조의2), prefixed so they never clash with art. 37(2)'s codes
        "art37-2-1",
        "art37-2-1-proviso",
        "art37-2-3",
        *(f"42-8-1-{n}" for n in range(1, 12)),
    ]
    # Our summaries, never printed as quotations: the Decree's transmission grounds and the
    # art. 37-2 ones we have not checked word for word.
    assert {c for c, g in GROUNDS.items() if not g.verbatim} == {
        "art37-2-1",
        "art37-2-3",
        *(f"42-8-1-{n}" for n in range(1, 12)),
    }
    assert GROUNDS["35-4-1"].article == "개인정보 보호법 제35조제4항제1호"
    assert GROUNDS["35-4-3-ga"].article == "개인정보 보호법 제35조제4항제3호가목"
    assert "조세의 부과ㆍ징수 또는 환급" in GROUNDS["35-4-3-ga"].text_ko
    assert GROUNDS["36-1-proviso"].text_ko.startswith("다른 법령에서 그 개인정보가 수집 대상으로")


def test_access_grounds_for_a_private_controller_exclude_public_ones() -> None:
    assert _codes("access", public=False) == ["35-4-1", "35-4-2"]
    assert _codes("access", public=True) == [
        "35-4-1",
        "35-4-2",
        "35-4-3-ga",
        "35-4-3-na",
        "35-4-3-da",
        "35-4-3-ra",
        "35-4-3-ma",
    ]


def test_transmission_grounds_are_decree_42_8_1_and_for_transmission_only() -> None:
    # Decree art. 42-8(1): refusal or stop of a transmission; no other type may cite them.
    assert _codes("transmission", public=False) == [f"42-8-1-{n}" for n in range(1, 12)]
    assert GROUNDS["42-8-1-1"].article == "개인정보 보호법 시행령 제42조의8제1항"
    assert "정당한 대리인" in GROUNDS["42-8-1-1"].text_ko
    for other in ("access", "deletion", "suspension", "consent_withdrawal"):
        assert not any(c.startswith("42-8") for c in _codes(other, public=True))


def test_deletion_proviso_only_for_deletion() -> None:
    assert _codes("deletion", public=False) == ["36-1-proviso"]
    for request_type in ("access", "correction", "suspension", "consent_withdrawal"):
        assert "36-1-proviso" not in _codes(request_type, public=True)
    assert GROUNDS["36-1-proviso"].applies_to == {"deletion"}


def test_suspension_and_withdrawal_grounds() -> None:
    for request_type in ("suspension", "consent_withdrawal"):
        assert _codes(request_type, public=False) == ["37-2-1", "37-2-2", "37-2-4"]
        assert _codes(request_type, public=True) == ["37-2-1", "37-2-2", "37-2-3", "37-2-4"]
    assert [g.code for g in GROUNDS.values() if g.requires_no_termination] == ["37-2-4"]


def test_correction_and_unknown_types_have_no_grounds() -> None:
    assert _codes("correction", public=True) == []
    assert _codes("objection", public=True) == []


# ---------------------------------------------------------------------------------------------
# Catalog


def test_catalog_for_carelabs(policy: Policy) -> None:
    catalog = build_catalog(policy)
    assert set(catalog) >= {
        "controller",
        "policy_effective_date",
        "request_types",
        "services",
        "purposes",
        "retention_rules",
        "processors",
        "contacts",
        "grounds",
        "objection_method",
        "automated_decisions",
    }
    assert catalog["controller"] == {
        "name": "(주)케어랩스",
        "unit": "CRM사업부",
        "public_institution": False,
        "transmission_from": None,  # not a 정보전송자 (art. 35-2): no transmission offered
    }
    assert catalog["policy_effective_date"] == "2024-09-13"
    assert [(t["code"], t["label"], t["period_days"]) for t in catalog["request_types"]] == [
        ("access", "열람", 10),
        ("correction", "정정", 10),
        ("deletion", "삭제", 10),
        ("suspension", "처리정지", 10),
        ("consent_withdrawal", "동의 철회", 10),
        ("automated_decision_refusal", "자동화된 결정 거부", 30),
        ("automated_decision_explanation", "자동화된 결정 설명", 30),
        ("automated_decision_review", "자동화된 결정 검토", 30),
    ]
    grounds = [g["code"] for g in catalog["grounds"]]
    assert grounds == [
        "35-4-1",
        "35-4-2",
        "36-1-proviso",
        "37-2-1",
        "37-2-2",
        "37-2-4",
        "art37-2-1",
        "art37-2-1-proviso",
        "art37-2-3",
    ]
    assert all(g["text"] and g["article"].startswith("개인정보 보호법") for g in catalog["grounds"])
    assert [g["code"] for g in catalog["grounds"] if not g["verbatim"]] == [
        "art37-2-1",
        "art37-2-3",
    ]

    webersoft = next(s for s in catalog["services"] if s["code"] == "webersoft")
    license_item = next(i for i in webersoft["items"] if i["code"] == "medical_license_number")
    assert license_item["name"] == "의사면허번호"
    assert license_item["category"] == "required"
    assert license_item["purposes"] == ["member_management"]
    assert "서비스 회원 탈퇴 시까지" in license_item["retention_text"]
    ip = next(i for i in webersoft["items"] if i["code"] == "ip_address")
    assert "「통신비밀보호법」" in ip["retention_text"] and "3개월" in ip["retention_text"]

    assert len(catalog["processors"]) == 10
    assert {"name": "(주)써머스플랫폼 스윗트래커", "task": "문자메시지 발송"}.items() <= next(
        p for p in catalog["processors"] if "스윗트래커" in p["name"]
    ).items()
    assert catalog["contacts"]["privacy_officer"]["email"] == "cs@carecrm.co.kr"
    objection = catalog["objection_method"]
    assert "이의" in objection and "정보보안팀" in objection
    assert "heegon.oh@carelabs.co.kr" in objection and "070-4895-0876" in objection


def test_catalog_includes_public_grounds_for_a_public_controller(tmp_path: Path) -> None:
    public = load_policy(_write(tmp_path, MINIMAL))
    grounds = [g["code"] for g in build_catalog(public)["grounds"]]
    # Only access and suspension are offered by this controller.
    assert grounds == [
        "35-4-1",
        "35-4-2",
        "35-4-3-ga",
        "35-4-3-na",
        "35-4-3-da",
        "35-4-3-ra",
        "35-4-3-ma",
        "37-2-1",
        "37-2-2",
        "37-2-3",
        "37-2-4",
    ]
    assert "36-1-proviso" not in grounds


def test_catalog_is_json_serialisable_and_pure(policy: Policy) -> None:
    import json

    first = build_catalog(policy)
    assert json.loads(json.dumps(first, ensure_ascii=False)) == first
    assert build_catalog(policy) == first


def test_catalog_does_not_publish_where_data_lives(policy: Policy) -> None:
    import json

    text = json.dumps(build_catalog(policy), ensure_ascii=False)
    holders = [h for s in policy.services for h in s.holders]
    for holder in holders:
        assert holder.email is not None and holder.email not in text
        assert holder.department is None or holder.department not in text
    assert "우노 서비스 DB" not in text
