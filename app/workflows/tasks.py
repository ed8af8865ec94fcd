"""Carrying a decision out: one task per holder of the data, and what counts as evidence.

Pure: no clock, no database. PIPA art. 26(4)-(6): the controller stays responsible for what
its processors (수탁자) do with the data, so a deletion, correction or suspension is done only
when every holder has acted; art. 36(3): deletion so that the data cannot be restored or
regenerated; art. 21(3): data another law makes us keep is stored separately instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Protocol

from app.errors import BusinessRuleViolation, InvalidTransition
from app.models.vocab import TaskKind as TaskKind
from app.models.vocab import TaskStatus as TaskStatus

TASK_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.OPEN: frozenset({TaskStatus.DONE, TaskStatus.WAIVED, TaskStatus.FAILED}),
    TaskStatus.FAILED: frozenset({TaskStatus.OPEN, TaskStatus.WAIVED}),
    TaskStatus.DONE: frozenset(),
    TaskStatus.WAIVED: frozenset(),
    # A scheduled task opens when its day comes; the officer may waive it before (with why).
    TaskStatus.SCHEDULED: frozenset({TaskStatus.OPEN, TaskStatus.WAIVED}),
}
# A request leaves `executing` only when every task is in one of these.
SETTLED = frozenset({TaskStatus.DONE, TaskStatus.WAIVED})


class Instruction(StrEnum):
    DELETE = "delete"  # art. 36(3): irreversibly
    SEPARATE = "separate"  # art. 21(3): kept under another law, stored apart
    CORRECT = "correct"  # art. 36(4)
    SUSPEND = "suspend"  # art. 37(1), (3)
    # Art. 35(1), (3) and art. 4(3): access includes a copy, so each holder sends an extract
    # of the granted items, and the request waits for every extract before release.
    EXTRACT = "extract"
    # Art. 21(1): an item kept under a statute is destroyed once the statute's period ends
    # (표준 개인정보 보호지침 art. 10(1): within 5 days of the end).
    DESTROY_AT_END = "destroy_at_end"
    # Art. 37(5): the data whose processing was stopped is destroyed, or otherwise dealt with
    # (then the officer waives the task and says how), without delay.
    DESTROY_SUSPENDED = "destroy_suspended"
    # Decree art. 43(2): the controller the item came from is told what was corrected or deleted.
    NOTIFY_SOURCE = "notify_source"
    # Art. 35-2(2), Decree art. 42-6: the holder sends the items to the recipient institution
    # the subject named; done with a statement of the sending (the transmission log records it).
    TRANSMIT = "transmit"


INSTRUCTION_LABELS_KO = {
    Instruction.DELETE: "삭제(파기)",
    Instruction.SEPARATE: "분리 보관",
    Instruction.CORRECT: "정정",
    Instruction.SUSPEND: "처리정지",
    Instruction.EXTRACT: "열람용 사본(추출 파일) 제출",
    Instruction.DESTROY_AT_END: "보존기간 종료 후 파기",
    Instruction.DESTROY_SUSPENDED: "처리정지된 개인정보의 파기",
    Instruction.NOTIFY_SOURCE: "정정·삭제 사실 통지(개인정보를 제공한 곳)",
    Instruction.TRANSMIT: "지정된 기관으로 개인정보 전송",
}


class Action(StrEnum):
    DELETED = "deleted"
    SEPARATED = "separated"
    CORRECTED = "corrected"
    SUSPENDED = "suspended"
    EXTRACTED = "extracted"
    SOURCE_INFORMED = "source_informed"
    TRANSMITTED = "transmitted"


ACTION_LABELS_KO = {
    Action.DELETED: "삭제함",
    Action.SEPARATED: "분리 보관함",
    Action.CORRECTED: "정정함",
    Action.SUSPENDED: "처리를 정지함",
    Action.EXTRACTED: "열람용 사본을 제출함",
    Action.SOURCE_INFORMED: "개인정보를 제공한 곳이 통지를 받음",
    Action.TRANSMITTED: "지정된 기관으로 전송함",
}

ACTION_FOR: dict[Instruction, Action] = {
    Instruction.DELETE: Action.DELETED,
    Instruction.SEPARATE: Action.SEPARATED,
    Instruction.CORRECT: Action.CORRECTED,
    Instruction.SUSPEND: Action.SUSPENDED,
    Instruction.EXTRACT: Action.EXTRACTED,
    Instruction.DESTROY_AT_END: Action.DELETED,
    Instruction.DESTROY_SUSPENDED: Action.DELETED,
    Instruction.NOTIFY_SOURCE: Action.SOURCE_INFORMED,
    Instruction.TRANSMIT: Action.TRANSMITTED,
}


class Method(StrEnum):
    # 표준 개인정보 보호지침 art. 10: electronic files by a method that cannot be restored,
    # paper by shredding or burning.
    IRREVERSIBLE_DELETION = "irreversible_deletion"
    OVERWRITE = "overwrite"
    CRYPTO_ERASURE = "crypto_erasure"
    PHYSICAL_DESTRUCTION = "physical_destruction"
    SEPARATE_STORAGE = "separate_storage"
    RECORD_UPDATED = "record_updated"
    PROCESSING_BLOCKED = "processing_blocked"
    FILE_UPLOADED = "file_uploaded"  # an extract: the file itself is the evidence
    # Decree art. 43(2): the source confirmed on its signed page, or answered otherwise.
    SOURCE_CONFIRMED = "source_confirmed"
    SOURCE_REPLIED = "source_replied"
    # Decree art. 42-6: sent over a channel the recipient accepts, its receipt confirmed.
    SENT_TO_RECIPIENT = "sent_to_recipient"


METHOD_LABELS_KO = {
    Method.IRREVERSIBLE_DELETION: "복구·재생할 수 없도록 영구 삭제",
    Method.OVERWRITE: "덮어쓰기 후 삭제",
    Method.CRYPTO_ERASURE: "암호화 키를 폐기해 복원할 수 없게 함",
    Method.PHYSICAL_DESTRUCTION: "파쇄 또는 소각(종이·매체)",
    Method.SEPARATE_STORAGE: "별도 저장소로 옮기고 접근을 제한함",
    Method.RECORD_UPDATED: "기록을 요구대로 고침",
    Method.PROCESSING_BLOCKED: "처리·이용을 차단함",
    Method.FILE_UPLOADED: "추출 파일을 올림",
    Method.SOURCE_CONFIRMED: "제공한 곳이 확인 링크에서 받았음을 확인함",
    Method.SOURCE_REPLIED: "제공한 곳이 전자우편·공문·전화로 회신함",
    Method.SENT_TO_RECIPIENT: "받는 기관에 전송하고 수신을 확인함",
}

METHODS_FOR: dict[Action, frozenset[Method]] = {
    Action.DELETED: frozenset(
        {
            Method.IRREVERSIBLE_DELETION,
            Method.OVERWRITE,
            Method.CRYPTO_ERASURE,
            Method.PHYSICAL_DESTRUCTION,
        }
    ),
    Action.SEPARATED: frozenset({Method.SEPARATE_STORAGE}),
    Action.CORRECTED: frozenset({Method.RECORD_UPDATED}),
    # Art. 37(2): a suspension stops processing and keeps the data untouched; what then becomes
    # of it is the art. 37(5) follow-up, a step of its own, so deleting does not answer it.
    Action.SUSPENDED: frozenset({Method.PROCESSING_BLOCKED}),
    Action.EXTRACTED: frozenset({Method.FILE_UPLOADED}),
    Action.SOURCE_INFORMED: frozenset({Method.SOURCE_CONFIRMED, Method.SOURCE_REPLIED}),
    Action.TRANSMITTED: frozenset({Method.SENT_TO_RECIPIENT}),
}

# What granting each type asks the holders to do.
_GRANTED_INSTRUCTION = {
    "access": Instruction.EXTRACT,
    "deletion": Instruction.DELETE,
    # The data processed on the withdrawn consent is destroyed (art. 37(3)); the decision's
    # retention plan has already left out what rests on a contract or a statute.
    "consent_withdrawal": Instruction.DELETE,
    "correction": Instruction.CORRECT,
    "suspension": Instruction.SUSPEND,
}


def granted_instruction(request_type: str, transmission_to: str | None) -> Instruction | None:
    """Art. 35-2: a transmission to oneself is delivered like access (an extract per holder,
    then the package); to a third party each holder sends the items to the recipient."""
    if request_type == "transmission":
        return Instruction.EXTRACT if transmission_to == "self" else Instruction.TRANSMIT
    return _GRANTED_INSTRUCTION.get(request_type)


class HolderLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def items(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class TaskPlan:
    holder_code: str
    instructions: tuple[tuple[str, Instruction], ...]  # (item code, instruction)


def plan_tasks(
    request_type: str,
    *,
    acted_on: Sequence[str],
    kept: Sequence[str],
    holders: Iterable[HolderLike],
    transmission_to: str | None = None,
) -> list[TaskPlan]:
    """One task per holder of an affected item: `acted_on` items get the type's instruction,
    `kept` items (a deletion's retention holds) are to be separated; an access grant asks
    each holder for an extract. Nothing when no item is affected (a refusal)."""
    instruction = granted_instruction(request_type, transmission_to)
    if instruction is None:
        return []
    wanted = {item: instruction for item in acted_on}
    wanted.update({item: Instruction.SEPARATE for item in kept if item not in wanted})
    plans = []
    for holder in holders:
        mine = tuple((item, wanted[item]) for item in holder.items if item in wanted)
        if mine:
            plans.append(TaskPlan(holder_code=holder.code, instructions=mine))
    return plans


@dataclass(frozen=True)
class ScheduledPlan:
    holder_code: str
    items: tuple[str, ...]
    opens_on: date  # the first day after the last day of the statutory period
    due_on: date


def plan_retention_ends(
    kept: Iterable[tuple[str, date]], holders: Iterable[HolderLike], *, destroy_days: int
) -> list[ScheduledPlan]:
    """One scheduled destruction per holder and end date of the items kept under a statute.

    `kept`: (item, keep_until) of the decision's retention plan. Art. 21(1) and 민법 제159조:
    the item is kept through `keep_until` and destroyed from the next day; 표준 개인정보
    보호지침 art. 10(1): within `destroy_days` (5) days of the end of the period."""
    by_item: dict[str, date] = dict(kept)
    plans = []
    for holder in holders:
        ends: dict[date, list[str]] = {}
        for item in holder.items:
            if item in by_item:
                ends.setdefault(by_item[item], []).append(item)
        for until in sorted(ends):
            opens = until + timedelta(days=1)
            plans.append(
                ScheduledPlan(
                    holder.code, tuple(ends[until]), opens, opens + timedelta(days=destroy_days)
                )
            )
    return plans


# Kinds of task that hold a request in `executing` (the others are tracked after it ends).
# Decree art. 43(2): the source is told "without delay" and its result is acted on, so the
# request closes only once the source has been reached (or the officer waived it, saying why).
HOLDS_REQUEST = frozenset({TaskKind.DECISION, TaskKind.NOTIFY_SOURCE})


# --- Decree art. 43(2): data received from another controller ---------------------------------

# Only a correction or a deletion reaches the source; a withdrawal or a suspension does not.
SOURCE_NOTIFIED_TYPES = frozenset({"correction", "deletion"})


class SourcedItem(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def source(self) -> str | None: ...


@dataclass(frozen=True)
class SourcePlan:
    source_code: str
    instructions: tuple[tuple[str, Instruction], ...]  # (item code, NOTIFY_SOURCE)


def plan_source_notices(
    request_type: str, *, acted_on: Sequence[str], items: Iterable[SourcedItem]
) -> list[SourcePlan]:
    """Decree art. 43(2): a controller that received the data from another controller corrects
    or deletes it and tells the source without delay, then acts on the source's result. One
    task per source of the items actually corrected or deleted (items kept under a statute are
    not deleted, so nothing is owed to the source for them); sources in order of first item."""
    if request_type not in SOURCE_NOTIFIED_TYPES:
        return []
    acted = set(acted_on)
    by_source: dict[str, list[str]] = {}
    for item in items:
        if item.code in acted and item.source is not None:
            by_source.setdefault(item.source, []).append(item.code)
    return [
        SourcePlan(code, tuple((i, Instruction.NOTIFY_SOURCE) for i in codes))
        for code, codes in by_source.items()
    ]


# Art. 37(5) follow-up of a suspension; 표준 개인정보 보호지침 art. 33(2): its result is
# notified within 10 days (counted the Civil-Act way from the day processing stopped: our
# reading, docs/decisions.md).
FOLLOWUP_DAYS = 10


def task_due_on(target: date, today: date) -> date:
    """A task's own due date: the team's target inside the legal deadline, never in the past."""
    return max(target, today)


def check_task_move(current: str, to: TaskStatus) -> None:
    if to not in TASK_TRANSITIONS[TaskStatus(current)]:
        raise InvalidTransition(f"'{current}' 상태의 작업을 '{to}' 상태로 바꿀 수 없습니다.")


@dataclass(frozen=True)
class Performed:
    action: Action
    method: Method


def needs_extract(instructions: Iterable[str]) -> bool:
    """An extract task is done by its file (art. 35(3)): never by a statement of what was done."""
    return any(i == Instruction.EXTRACT for i in instructions)


# An extract task's record once its file is in.
EXTRACT_PERFORMED = (Performed(Action.EXTRACTED, Method.FILE_UPLOADED),)


def check_evidence(instructions: Iterable[str], performed: Sequence[Performed]) -> None:
    """Every kind of instruction of the task is answered by an action done in an accepted way
    (e.g. a deletion by a method that cannot be restored: art. 36(3))."""
    needed = {ACTION_FOR[Instruction(i)] for i in instructions}
    given = {p.action for p in performed}
    for i, p in enumerate(performed):
        if p.action not in needed:
            # Say what was asked, so the next try can be right.
            asked = sorted(needed)
            names = ", ".join(f"{ACTION_LABELS_KO[a]}({a.value})" for a in asked)
            raise BusinessRuleViolation(
                "action_not_asked",
                f"actions.{i}.action",
                f"이 작업에서 요청하지 않은 조치입니다({ACTION_LABELS_KO[p.action]}). "
                f"요청한 조치: {names}",
                allowed=[a.value for a in asked],
                value=p.action.value,
            )
        if p.method not in METHODS_FOR[p.action]:
            methods = sorted(m.value for m in METHODS_FOR[p.action])
            allowed = ", ".join(methods)
            raise BusinessRuleViolation(
                "method_not_accepted",
                f"actions.{i}.method",
                f"{ACTION_LABELS_KO[p.action]} 조치의 방법은 {allowed} 중 하나여야 합니다.",
                allowed=methods,
            )
    missing = needed - given
    if missing:
        names = ", ".join(ACTION_LABELS_KO[a] for a in sorted(missing))
        raise BusinessRuleViolation(
            "evidence_incomplete", "actions", f"요청한 조치의 기록이 빠졌습니다: {names}."
        )
