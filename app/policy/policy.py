"""The policy as a whole: its cross-references checked, and `load_policy` to read a file."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import (
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)

from app.policy.automated import AutomatedDecision
from app.policy.entries import (
    Clinic,
    Contact,
    Controller,
    Holder,
    PolicyError,
    Processor,
    Purpose,
    RetentionRule,
    Rights,
    Service,
    SourceController,
    ThirdPartyProvision,
    _check_unique,
    _Model,
    _require_entries,
)


class Policy(_Model):
    controller: Controller
    purposes: tuple[Purpose, ...]
    retention_rules: tuple[RetentionRule, ...]
    services: tuple[Service, ...]
    processors: tuple[Processor, ...] = ()
    # Decree art. 43(2): the controllers some items were received from.
    source_controllers: tuple[SourceController, ...] = ()
    third_party_provision: ThirdPartyProvision
    rights: Rights
    # Processor mode (art. 26(8)): clinics whose patients' data the services hold for them.
    clinics: tuple[Clinic, ...] = ()
    # Art. 37-2, Decree art. 44-4: the automated decisions the controller publishes.
    automated_decisions: tuple[AutomatedDecision, ...] = ()

    _non_empty = field_validator("purposes", "retention_rules", "services")(_require_entries)

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        _check_unique("service", (s.code for s in self.services))
        _check_unique("purpose", (p.code for p in self.purposes))
        _check_unique("retention rule", (r.code for r in self.retention_rules))
        _check_unique("processor", (p.code for p in self.processors))
        _check_unique("processor role", (p.role for p in self.processors if p.role))
        _check_unique("contact", (c.code for c in self.contacts()))
        _check_unique("request type", (t.code for t in self.rights.request_types))
        purposes = {p.code for p in self.purposes}
        rules = {r.code for r in self.retention_rules}
        for service in self.services:
            for item in service.items:
                for kind, refs, known in (
                    ("purpose", item.purposes, purposes),
                    ("retention", item.retention, rules),
                ):
                    unknown = [r for r in refs if r not in known]
                    if unknown:
                        raise ValueError(
                            f"item {item.code!r} of service {service.code!r} refers to unknown"
                            f" {kind} code(s): {', '.join(map(repr, unknown))}"
                        )
        processors = {p.code for p in self.processors}
        for service in self.services:
            for holder in service.holders:
                if holder.processor is not None and holder.processor not in processors:
                    raise ValueError(
                        f"holder {holder.code!r} of service {service.code!r} refers to unknown"
                        f" processor {holder.processor!r}"
                    )
        _check_unique("source controller", (c.code for c in self.source_controllers))
        sources = {c.code for c in self.source_controllers}
        for service in self.services:
            for item in service.items:
                if item.source is not None and item.source not in sources:
                    raise ValueError(
                        f"item {item.code!r} of service {service.code!r} refers to unknown"
                        f" source controller {item.source!r}"
                    )
        _check_unique("clinic", (c.code for c in self.clinics))
        for clinic in self.clinics:
            unknown_services = [s for s in clinic.services if self.service(s) is None]
            if unknown_services:
                raise ValueError(
                    f"clinic {clinic.code!r} refers to unknown service(s): {unknown_services!r}"
                )
        self._check_automated_decisions()
        contact_codes = {c.code for c in self.contacts()}
        for field in ("intake_contact", "objection_contact"):
            ref = getattr(self.rights, field)
            if ref not in contact_codes:
                raise ValueError(f"rights.{field} refers to unknown contact {ref!r}")
        return self

    def _check_automated_decisions(self) -> None:
        _check_unique("automated decision", (d.code for d in self.automated_decisions))
        for d in self.automated_decisions:
            if d.code == "unknown":
                raise ValueError("automated decision code 'unknown' is reserved")
            for code in d.services:
                if self.service(code) is None:
                    raise ValueError(
                        f"automated decision {d.code!r} refers to unknown service {code!r}"
                    )
            known = {i.code for code in d.services for i in self.service(code).items}  # type: ignore[union-attr]
            unknown = [i for i in d.items if i not in known]
            if unknown:
                raise ValueError(
                    f"automated decision {d.code!r} uses item(s) none of its services has:"
                    f" {', '.join(map(repr, unknown))}"
                )

    def automated_decision(self, code: str) -> AutomatedDecision | None:
        return next((d for d in self.automated_decisions if d.code == code), None)

    @model_validator(mode="wrap")
    @classmethod
    def _resolve_holders(cls, data: Any, handler: ModelWrapValidatorHandler[Policy]) -> Policy:
        policy = handler(data)  # validated, so every holder's processor exists
        names = {p.code: p.name for p in policy.processors}
        services = tuple(s._resolved(names) for s in policy.services)
        return policy.model_copy(update={"services": services})

    def service(self, code: str) -> Service | None:
        return next((s for s in self.services if s.code == code), None)

    def service_codes(self) -> tuple[str, ...]:
        return tuple(s.code for s in self.services)

    def item_codes(self, service_code: str) -> frozenset[str]:
        """The item codes of a service; empty for an unknown service."""
        service = self.service(service_code)
        return frozenset(i.code for i in service.items) if service else frozenset()

    def purpose(self, code: str) -> Purpose | None:
        return next((p for p in self.purposes if p.code == code), None)

    def retention_rule(self, code: str) -> RetentionRule | None:
        return next((r for r in self.retention_rules if r.code == code), None)

    def contacts(self) -> tuple[Contact, ...]:
        return (self.controller.privacy_officer, *self.controller.departments)

    def contact(self, code: str) -> Contact | None:
        return next((c for c in self.contacts() if c.code == code), None)

    def processor_for_role(self, role: str) -> Processor | None:
        return next((p for p in self.processors if p.role == role), None)

    def holders(self, service_code: str) -> tuple[Holder, ...]:
        """Where a service's data lives, in file order; empty for an unknown service."""
        service = self.service(service_code)
        return service.holders if service else ()

    def source_controller(self, code: str) -> SourceController | None:
        return next((c for c in self.source_controllers if c.code == code), None)

    def holders_of(self, service_code: str, items: Iterable[str]) -> list[Holder]:
        """The holders of a service that hold at least one of `items`, in file order: the ones
        a decision's tasks go to, so a holder of 가명정보 only is never one (art. 28-7).

        Empty `items` means every item of the service (so every holder). Codes the service does
        not have match no holder.
        """
        if isinstance(items, str):
            raise TypeError("items must be a collection of item codes, not one string")
        wanted = set(items)
        holders = tuple(h for h in self.holders(service_code) if not h.pseudonymized)
        if not wanted:
            return list(holders)
        return [h for h in holders if any(h.holds(code) for code in wanted)]


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file; any problem raises PolicyError naming file and entry."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policy file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: policy file is not UTF-8: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: invalid TOML: {exc}") from exc
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        problems = "\n".join(f"  {_describe(err, raw)}" for err in exc.errors())
        raise PolicyError(f"{path}: invalid policy:\n{problems}") from exc


def _describe(err: Mapping[str, Any], raw: Any) -> str:
    """One validation error as `services[uno].items[gender].category: message (got ...)`."""
    parts: list[str] = []
    node: Any = raw
    for step in err["loc"]:
        if isinstance(step, int) and isinstance(node, Sequence) and 0 <= step < len(node):
            node = node[step]
            code = node.get("code") if isinstance(node, Mapping) else None
            # Name list entries by their code when they have one: that is what people search for.
            parts.append(f"[{code}]" if isinstance(code, str) and code else f"[{step}]")
        else:
            node = node.get(step) if isinstance(node, Mapping) else None
            parts.append(f".{step}" if parts else str(step))
    where = "".join(parts) or "policy"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] in ("missing", "value_error") or "input" not in err:
        return f"{where}: {msg}"
    got = repr(err["input"])
    return f"{where}: {msg} (got {got if len(got) <= 60 else got[:57] + '...'})"
