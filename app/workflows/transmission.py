"""Transmission (PIPA art. 35-2; Decree arts. 42-2 to 42-8): the gate, the body, the package.

Pure: no clock, no I/O. Only a 정보전송자 (Decree art. 42-2) owes transmission; the policy says
from which day the controller is one (`[controller].transmission_from`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from app.errors import BusinessRuleViolation, FieldError, ValidationFailed
from app.models.request_api import RequestCreate
from app.models.vocab import TransmissionTo

TYPE = "transmission"

NOT_OFFERED_MESSAGE = (
    "현재 개인정보 전송 요구(개인정보 보호법 제35조의2)는 받지 않습니다. 같은 개인정보를 "
    "받아 보시려면 열람 요구로 신청해 주세요. 열람 요구로 전자적 사본을 받으실 수 있습니다."
)


def offered(transmission_from: date | None, received_on: date) -> bool:
    """Art. 35-2, Decree art. 42-2: the controller is a 정보전송자 on the day of receipt."""
    return transmission_from is not None and transmission_from <= received_on


def _invalid(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[FieldError(field, code, message)])


def check_transmission(
    payload: RequestCreate, *, received_on: date, transmission_from: date | None
) -> None:
    """The gate first (a request the controller does not owe is sent to access), then the
    body: where to, and for a third party which recipient."""
    if payload.type != TYPE:
        if payload.transmission is not None:
            raise BusinessRuleViolation(
                "transmission_not_applicable",
                "transmission",
                "전송 방법은 전송 요구에만 적습니다.",
            )
        return
    if not offered(transmission_from, received_on):
        raise BusinessRuleViolation("transmission_not_offered", "type", NOT_OFFERED_MESSAGE)
    body = payload.transmission
    if body is None:
        raise _invalid(
            "transmission",
            "required",
            "전송 받을 곳을 골라 주세요(to: self 본인, third_party 다른 기관).",
        )
    if body.to is TransmissionTo.THIRD_PARTY and body.recipient is None:
        raise _invalid(
            "transmission.recipient",
            "required",
            "다른 기관으로 전송하려면 받는 기관의 이름, 등록(지정)번호, 연락처가 필요합니다.",
        )
    if body.to is TransmissionTo.SELF and body.recipient is not None:
        raise _invalid(
            "transmission.recipient",
            "not_applicable",
            "본인에게 전송할 때에는 받는 기관을 적지 않습니다.",
        )


def uses_package(request_type: str, transmission_to: str | None) -> bool:
    """Access, and transmission to oneself (art. 35-2(1)), deliver the data as a package the
    person downloads; a transmission to a third party is carried out by the holders."""
    if request_type == "access":
        return True
    return request_type == TYPE and transmission_to == TransmissionTo.SELF


# Art. 35-2(1): 컴퓨터 등 정보처리장치로 처리 가능한 형태. A holder's extract for a
# transmission is a file a program reads field by field; a PDF, an image or a bare ZIP is not.
MACHINE_READABLE = ("csv", "json", "xlsx")
MACHINE_READABLE_LABEL = "CSV, JSON, XLSX"


def check_machine_readable(request_type: str, formats: Sequence[str], *, field: str) -> None:
    """The extracts of a transmission are CSV, JSON or XLSX (`formats`: each file's sniffed
    format, in upload order); the first other file is refused by its position."""
    if request_type != TYPE:
        return
    for i, fmt in enumerate(formats):
        if fmt not in MACHINE_READABLE:
            message = (
                "전송 요구(개인정보 보호법 제35조의2제1항)의 자료는 컴퓨터로 처리할 수 있는 "
                f"{MACHINE_READABLE_LABEL} 파일만 받습니다({fmt.upper()} 파일은 받지 않습니다)."
            )
            raise ValidationFailed(
                message,
                errors=[
                    FieldError(
                        f"{field}.{i}",
                        "not_machine_readable",
                        message,
                        allowed=MACHINE_READABLE,
                        value=fmt,
                    )
                ],
            )


@dataclass(frozen=True)
class ItemRecord:
    """One item of a machine-readable package (art. 35-2(1): 컴퓨터 등 정보처리장치로 처리
    가능한 형태)."""

    code: str
    name: str
    components: tuple[str, ...]
    holders: tuple[str, ...]
    files: tuple[str, ...]  # the package's paths of the holders' extracts holding it


def item_json(record: ItemRecord, *, reference: str, service: str) -> bytes:
    """One item as UTF-8 JSON: the policy's code and Korean name, and where its content is."""
    doc = {
        "reference": reference,
        "service": service,
        "item": {"code": record.code, "name": record.name, "components": list(record.components)},
        "holders": list(record.holders),
        "files": list(record.files),
    }
    return json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8")


def item_json_name(code: str) -> str:
    return f"items/{code}.json"
