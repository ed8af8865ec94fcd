"""Duplicate requests: the same subject asking the same thing of the same service while an
earlier request of theirs is still open (pure).

PIPA art. 35-38 give one right per request, and the Decree lets the controller handle a
request within the period (Decree arts. 41(4), 43(3), 44(2)); two open requests for the same
right, service and person would be handled twice, with two deadlines and two answers. The
rule only flags: staff decide whether to handle both (link them) or close the newer one, which
the requester can object to (art. 38(5)).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from app.workflows.lifecycle import CLOSED, Status


class Basis(StrEnum):
    """Why two requests are taken for the same subject."""

    CONTACT = "contact"  # the same e-mail or phone (blind index)
    NAME_BIRTH_DATE = "name_birth_date"  # the same normalised name and birth date


class FlagState(StrEnum):
    FLAGGED = "flagged"  # found at filing, nobody has looked yet
    LINKED = "linked"  # staff saw it: both are handled, each noted with the other
    CLOSED = "closed"  # the newer was closed as a duplicate of the older


@dataclass(frozen=True)
class SubjectKeys:
    """The subject's blind indexes and birth date (what identifies a person here)."""

    email_bidx: str | None = None
    phone_bidx: str | None = None
    name_bidx: str | None = None
    birth_date: date | None = None


@dataclass(frozen=True)
class Filed:
    service: str
    type: str
    status: Status
    subject: SubjectKeys


def duplicate_basis(new: Filed, other: Filed) -> Basis | None:
    """Whether `new` duplicates `other`: same service and type, `other` still open, and the
    same subject by contact or by name and birth date. Contact first: it was proved by a
    one-time code at filing, a name and a birth date are only typed."""
    if new.service != other.service or new.type != other.type or other.status in CLOSED:
        return None
    a, b = new.subject, other.subject
    if (a.email_bidx and a.email_bidx == b.email_bidx) or (
        a.phone_bidx and a.phone_bidx == b.phone_bidx
    ):
        return Basis.CONTACT
    if a.name_bidx and a.birth_date and (a.name_bidx, a.birth_date) == (b.name_bidx, b.birth_date):
        return Basis.NAME_BIRTH_DATE
    return None


def may_close_as_duplicate(newer_status: Status, state: FlagState) -> bool:
    """Only a flag nobody has settled, and only while the newer request can still be closed
    without a decision (before review: the lifecycle's way to `rejected`)."""
    return state is FlagState.FLAGGED and newer_status in (
        Status.IDENTITY_PENDING,
        Status.AWAITING_REQUESTER,
    )
