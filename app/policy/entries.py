"""The entries of a policy file: contacts, purposes, retention rules, items, holders,
services, processors and the rights the controller offers (validated as they are read)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from app.models.vocab import FILEABLE_TYPES, RequestType

# Stable ASCII identifiers: stored on requests and in the audit trail.
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Text = Annotated[str, Field(min_length=1)]


class PolicyError(ValueError):
    """The policy file cannot be read or does not describe a consistent inventory."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_unique(what: str, codes: Iterable[str]) -> None:
    dups = sorted(code for code, n in Counter(codes).items() if n > 1)
    if dups:
        raise ValueError(f"duplicate {what} code(s): {', '.join(map(repr, dups))}")


def _require_entries(value: tuple[Any, ...], info: ValidationInfo) -> tuple[Any, ...]:
    # An after-validator rather than Field(min_length=1): pydantic would also report the
    # length error whenever one entry is invalid, burying the real problem.
    if not value:
        raise ValueError(f"{info.field_name} must list at least one entry")
    return value


class Contact(_Model):
    """A role the policy publishes (officer or department) and how to reach it."""

    code: Code
    role: Text  # the policy's heading, e.g. 개인정보보호책임자
    name: str | None = None  # the person, as published
    title: str | None = None  # 직책
    department: str | None = None  # 부서명
    email: str | None = None
    phone: str | None = None

    @model_validator(mode="after")
    def _reachable(self) -> Contact:
        if not (self.email or self.phone):
            raise ValueError(f"contact {self.code!r} has neither email nor phone")
        return self


class Remedy(_Model):
    """An outside body the subject can turn to (policy: 권익침해 구제방법). `kind` says what it
    does, so a notice offers each only for that: `mediation` (개인정보 분쟁조정위원회, art. 40),
    `report` (a report and counselling centre, art. 62) or `investigation` (prosecution and
    police: a criminal complaint, no mediation)."""

    name: Text
    phone: Text
    site: Text
    kind: Literal["mediation", "report", "investigation"]


class Controller(_Model):
    # The 개인정보처리자 is the legal person (art. 2(5)); `unit` is the division acting for it.
    name: Text
    unit: Text | None = None
    public_institution: bool  # 공공기관: unlocks the public-only legal grounds
    policy_effective_date: date
    privacy_officer: Contact
    departments: tuple[Contact, ...] = ()
    remedies: tuple[Remedy, ...] = ()
    # Art. 35-2, Decree art. 42-2: the first day the controller is a 정보전송자 (transmission
    # is offered from then on); absent = not one, and transmission is refused at intake.
    transmission_from: date | None = None

    @property
    def signed_as(self) -> str:
        """The legal person with the unit acting for it: how documents are signed."""
        return f"{self.name} {self.unit}" if self.unit else self.name


class Purpose(_Model):
    code: Code
    name: Text
    description: Text


class RetentionException(_Model):
    """A circumstance that extends a retention period (e.g. an ongoing investigation)."""

    code: Code
    text: Text
    until: Code  # the event that ends the extension


class RetentionRule(_Model):
    """How long data is kept: until an event, or for a fixed number of months or years."""

    code: Code
    name: Text  # what is kept, in the policy's words
    period: Text  # the period, in the policy's words
    until: Literal["withdrawal", "contract_end"] | None = None
    months: int | None = Field(default=None, gt=0)
    years: int | None = Field(default=None, gt=0)
    counted_from: Literal["collection", "record_creation"] | None = None
    statute: str | None = None
    # The statute's provision that imposes the duty, e.g. 제6조제1항 (same law's decree named in
    # it where the period is set there): a refusal to delete cites it (art. 21(1) proviso).
    article: str | None = None
    # Another law obliges keeping the data: deletion meets art. 36(1) proviso and the data is
    # stored separately (art. 21(3)).
    statutory: bool
    exceptions: tuple[RetentionException, ...] = ()

    @model_validator(mode="after")
    def _one_duration(self) -> RetentionRule:
        given = [k for k in ("until", "months", "years") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"retention rule {self.code!r} needs exactly one of until, months, years"
                f" (got {', '.join(given) or 'none'})"
            )
        if (self.until is None) != (self.counted_from is not None):
            raise ValueError(
                f"retention rule {self.code!r}: counted_from goes with months/years, not until"
            )
        if self.statutory and not self.statute:
            raise ValueError(f"retention rule {self.code!r} is statutory but names no statute")
        if self.statutory and not self.article:
            raise ValueError(f"retention rule {self.code!r} is statutory but names no article")
        _check_unique(f"exception (rule {self.code!r})", (e.code for e in self.exceptions))
        return self

    @property
    def duration_months(self) -> int | None:
        """The fixed period in months, or None for an event-bound rule."""
        if self.years is not None:
            return self.years * 12
        return self.months


class CollectionContext(_Model):
    """How a service collects data (the policy's 수집방법), e.g. staff registration."""

    code: Code
    name: Text


Basis = Literal["consent", "contract", "statute"]

# PIPA art. 15(1): the legal basis of processing, read from the policy's 필수/선택/자동수집
# columns where the file does not state it (docs/decisions.md "Legal basis per item"):
# a required item is needed for the service contract (15(1)4), an optional one is given on
# consent (15(1)1), an automatically collected one is made by running the contracted service
# (15(1)4). An item kept because a statute makes the company create and keep it says so.
BASIS_FROM_CATEGORY: dict[str, Basis] = {
    "required": "contract",
    "optional": "consent",
    "auto": "contract",
}
BASIS_ARTICLE: dict[str, str] = {
    "consent": "개인정보 보호법 제15조제1항제1호",
    "contract": "개인정보 보호법 제15조제1항제4호",
}


class DataItem(_Model):
    code: Code
    name: Text
    category: Literal["required", "optional", "auto"]  # 필수항목 / 선택항목 / 자동수집
    # Art. 15(1): consent (1호), contract (4호) or a statutory duty (2호). A consent
    # withdrawal (art. 37(1), (3)) reaches only consent-based items.
    # Both are filled from `category` before validation when the file leaves them out (the
    # defaults only keep a bad category from being reported three times).
    basis: Basis = "consent"
    basis_article: str = ""  # the provision, e.g. 개인정보 보호법 제15조제1항제4호
    context: Code | None = None  # None: collected automatically, no collection step
    components: tuple[Text, ...] = ()  # listed details, e.g. 단말기 정보(IP, user-agent)
    purposes: tuple[Code, ...]
    retention: tuple[Code, ...]
    # Decree art. 43(2): the item was received from another controller (a [[source_controllers]]
    # code); a correction or deletion of it is notified to that source.
    source: Code | None = None
    # Art. 28-7: kept as 가명정보 (pseudonymized under arts. 28-2, 28-3); arts. 35 to 37 do not
    # apply, so no access, correction, deletion or suspension plan or task reaches it.
    pseudonymized: bool = False

    _non_empty = field_validator("purposes", "retention")(_require_entries)

    @model_validator(mode="before")
    @classmethod
    def _derived_basis(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("basis") is None and data.get("category") in BASIS_FROM_CATEGORY:
            data["basis"] = BASIS_FROM_CATEGORY[data["category"]]
        if data.get("basis_article") is None and data.get("basis") in BASIS_ARTICLE:
            data["basis_article"] = BASIS_ARTICLE[data["basis"]]
        if data.get("basis") == "statute" and not data.get("basis_article"):
            raise ValueError(f"item {data.get('code')!r} rests on a statute but names no article")
        return data


Identifier = Literal["name", "email", "phone", "birth_date", "member_id"]
ALL_ITEMS = "*"
# An item code of the service, or "*" for all of them (one pattern: one error when wrong).
ItemRef = Annotated[str, Field(pattern=r"^(\*|[a-z][a-z0-9_]*)$", max_length=64)]


class Holder(_Model):
    """Where a service's data lives: one of our systems, or a processor (수탁자, art. 26).

    A decision (deletion, correction, suspension) is carried out at every holder of the items it
    concerns. After load, `name` is always the display name (a processor holder without one takes
    the processor's) and `items` lists the service's item codes explicitly (no "*").
    """

    code: Code
    name: str = ""  # required for systems; empty for a processor means the processor's name
    kind: Literal["system", "processor"]
    processor: Code | None = None  # a [[processors]] code; required iff kind == "processor"
    items: tuple[ItemRef, ...]
    department: str | None = None  # team responsible (systems)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    api_url: str | None = Field(default=None, pattern=r"^https://\S+$")  # takes deletion requests
    identifiers: tuple[Identifier, ...]  # how this holder finds the subject's records
    # Art. 28-7: this holder keeps the items only as 가명정보, so no task ever goes to it.
    pseudonymized: bool = False

    _non_empty = field_validator("items", "identifiers")(_require_entries)

    @field_validator("department", "email", "api_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, v: Any) -> Any:
        return None if v == "" else v

    @model_validator(mode="after")
    def _consistent(self) -> Holder:
        if self.kind == "system" and not self.name.strip():
            raise ValueError(f"system holder {self.code!r} needs a name")
        if (self.kind == "processor") != (self.processor is not None):
            raise ValueError(
                f"holder {self.code!r}: `processor` goes with kind 'processor' and only with it"
            )
        if ALL_ITEMS in self.items and len(self.items) > 1:
            raise ValueError(f"holder {self.code!r}: '*' must be the only entry of items")
        _check_unique(f"item (holder {self.code!r})", self.items)
        _check_unique(f"identifier (holder {self.code!r})", self.identifiers)
        if not (self.email or self.api_url):
            raise ValueError(f"holder {self.code!r} has neither email nor api_url")
        return self

    def holds(self, item_code: str) -> bool:
        return item_code in self.items or ALL_ITEMS in self.items


class Service(_Model):
    code: Code
    name: Text
    contexts: tuple[CollectionContext, ...] = ()
    items: tuple[DataItem, ...] = ()
    holders: tuple[Holder, ...] = ()  # where the items live; every item has at least one
    # Whether the service collected a birth date (an item `birth_date`). Law rule 20 (art.
    # 38(4)): a request may not ask for what collection did not, so a filing for a service
    # that never collected one needs no birth date; it answers "under 14?" instead.
    collects_birth_date: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Service:
        if not self.items:
            raise ValueError(f"service {self.code!r} has no data items")
        if not self.collects_birth_date and any(i.code == "birth_date" for i in self.items):
            raise ValueError(
                f"service {self.code!r} has a birth_date item but collects_birth_date = false"
            )
        _check_unique(f"context (service {self.code!r})", (c.code for c in self.contexts))
        _check_unique(f"item (service {self.code!r})", (i.code for i in self.items))
        _check_unique(f"holder (service {self.code!r})", (h.code for h in self.holders))
        contexts = {c.code for c in self.contexts}
        for item in self.items:
            if item.context is not None and item.context not in contexts:
                raise ValueError(
                    f"item {item.code!r} of service {self.code!r} refers to unknown context"
                    f" {item.context!r}"
                )
        codes = [i.code for i in self.items]
        for holder in self.holders:
            unknown = [c for c in holder.items if c != ALL_ITEMS and c not in codes]
            if unknown:
                raise ValueError(
                    f"holder {holder.code!r} of service {self.code!r} refers to unknown item"
                    f" code(s): {', '.join(map(repr, unknown))}"
                )
        # Nothing may be forgotten when a decision is carried out: every item has a holder.
        unheld = [c for c in codes if not any(h.holds(c) for h in self.holders)]
        if unheld:
            held_by_none = ", ".join(map(repr, unheld))
            raise ValueError(f"item(s) of service {self.code!r} held by no holder: {held_by_none}")
        return self

    def item(self, code: str) -> DataItem | None:
        return next((i for i in self.items if i.code == code), None)

    def holder(self, code: str) -> Holder | None:
        return next((h for h in self.holders if h.code == code), None)

    def _resolved(self, processor_names: Mapping[str, str]) -> Service:
        """Holders with "*" spelled out and processor holders named after their processor."""
        codes = tuple(i.code for i in self.items)

        def resolve(h: Holder) -> Holder:
            update: dict[str, Any] = {"items": codes} if ALL_ITEMS in h.items else {}
            if h.processor is not None and not h.name.strip():
                update["name"] = processor_names.get(h.processor, h.processor)
            return h.model_copy(update=update) if update else h

        return self.model_copy(update={"holders": tuple(map(resolve, self.holders))})


class SourceController(_Model):
    """Another 개인정보처리자 the controller received items from (Decree art. 43(2)): told when
    a correction or deletion of those items is granted, and asked to confirm."""

    code: Code
    name: Text
    received_how: Text  # how the data came, in the policy's words (e.g. 제휴 계약에 따른 제공)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = None
    # What the source needs to find the subject's records (data minimisation, art. 3(1)).
    identifiers: tuple[Identifier, ...]

    _non_empty = field_validator("identifiers")(_require_entries)

    @model_validator(mode="after")
    def _reachable(self) -> SourceController:
        if not (self.email or self.phone):
            raise ValueError(f"source controller {self.code!r} has neither email nor phone")
        _check_unique(f"identifier (source {self.code!r})", self.identifiers)
        return self


class Processor(_Model):
    """수탁자: a company processing personal data on the controller's behalf."""

    code: Code
    name: Text  # as the policy writes it
    task: Text  # 위탁업무
    retention: Text  # 보유 및 이용기간
    role: Literal["sms", "channeltalk"] | None = None  # which integration it backs


class Recipient(_Model):
    """A third party the data is provided to (제3자 제공)."""

    name: Text
    purpose: Text
    items: Text
    retention: Text


class ThirdPartyProvision(_Model):
    recipients: tuple[Recipient, ...] = ()
    note: Text


class RequestTypeOffer(_Model):
    code: RequestType
    label: Text

    @field_validator("code")
    @classmethod
    def _fileable(cls, v: RequestType) -> RequestType:
        if v not in FILEABLE_TYPES:
            raise ValueError(f"{v.value!r} cannot be offered as a request type")
        return v


class Rights(_Model):
    channels: tuple[Text, ...] = ()  # published request channels, in the policy's words
    intake_contact: Code  # department that receives requests
    objection_contact: Code  # department that receives objections (art. 38(5))
    request_types: tuple[RequestTypeOffer, ...]

    _non_empty = field_validator("request_types")(_require_entries)


# --- processor mode (art. 26(8)) ------------------------------------------------------------


class Clinic(_Model):
    """A clinic whose patients' data a service holds for it: Carelabs is its processor
    (수탁자), the clinic the controller. Only the clinic's business contact."""

    code: Code
    name: Text
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = None
    services: tuple[Code, ...]

    _non_empty = field_validator("services")(_require_entries)
