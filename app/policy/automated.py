"""The controller's automated decisions (PIPA art. 37-2, Decree art. 44-4): what each decides,
with which data, on which criteria, and on which legal basis. Published by the catalog."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from app.policy.entries import Code, Text, _Model, _require_entries

# Art. 15(1) subparagraphs a decision may rest on, as "15-1-<n>". Art. 37-2(1) proviso: a
# decision resting on 1 (consent), 2 (a statute) or 4 (a contract) cannot be refused.
LegalBasis = Literal["15-1-1", "15-1-2", "15-1-3", "15-1-4", "15-1-5", "15-1-6", "15-1-7"]


class AutomatedDecision(_Model):
    code: Code
    name: Text
    decides: Text  # what the decision decides, in the subject's words
    items: tuple[Code, ...]  # the data it uses: item codes of its services
    criteria: Text  # its main criteria and procedure (Decree art. 44-4)
    # Art. 37-2(1): fully automated (no person decides) and with a significant effect on the
    # subject's rights or duties; only such a decision can be refused.
    fully_automated: bool
    significant_effect: bool
    legal_basis: tuple[LegalBasis, ...]
    # From 2027-03-09 (법률 제21910호) art. 37-2 names AI systems expressly; the procedure is
    # the same, the catalog says which decisions are made by one.
    ai_system: bool = False
    services: tuple[Code, ...]

    _non_empty = field_validator("items", "legal_basis", "services")(_require_entries)

    @property
    def refusable(self) -> bool:
        """Art. 37-2(1): the subject may refuse it (the proviso is checked by the rules)."""
        return self.fully_automated and self.significant_effect
