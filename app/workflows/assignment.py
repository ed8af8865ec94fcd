"""Who owns a holder's task: the request's assignee, unless someone chose otherwise. Pure.

A task takes the request's assignee when it is made (a scheduled task, when it opens, if it
still has none), so `GET /v1/staff/tasks?assignee=me` finds the tasks of one's own requests.
While a task is still owed (open, failed or scheduled), it follows the request when the
request is reassigned, but only if it was still with the request's previous assignee: a task
someone deliberately gave to another person stays with that person. A settled task (done,
waived) keeps who owned it: it is a record.
"""

from __future__ import annotations

from app.models.vocab import TaskStatus

# Tasks still owed: these follow the request's assignee.
OWED = frozenset({TaskStatus.OPEN, TaskStatus.FAILED, TaskStatus.SCHEDULED})


def follows_reassignment(
    task_status: str, task_assignee: int | None, previous_request_assignee: int | None
) -> bool:
    """Whether a task moves with its request from `previous_request_assignee` to a new one."""
    return task_status in OWED and task_assignee == previous_request_assignee


def assignee_on_opening(task_assignee: int | None, request_assignee: int | None) -> int | None:
    """The owner of a task as it opens: its own if it has one, else the request's."""
    return task_assignee if task_assignee is not None else request_assignee
