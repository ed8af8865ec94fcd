"""The staff console's pages (HTML, signed-in sessions): the queue at /staff.

The queue is the API's (GET /v1/staff/requests): the same query model, filters, order and
pages (app/services/requests/queue.py); each row adds its next step and who must take it
(app/workflows/next_step.py). "나에게 필요한 일" (needs me) is the default view.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from app.deps import (
    ConsoleForbidden,
    ConsoleReader,
    ConsoleSignInRequired,
    RuntimeDep,
    SessionDep,
    may_triage,
)
from app.errors import DomainError, pydantic_field_errors
from app.models.vocab import TYPE_LABELS_KO, Status
from app.routers import console_auth, console_board, console_find, console_request
from app.services.console.queue_view import case_workers, queue_view
from app.services.requests.queue import QueueQuery
from app.web.console import FormErrors, page, redirect
from app.workflows.console_auth import safe_next

router = APIRouter(prefix="/staff", include_in_schema=False)

# The queue's filters, as the API names them; `view` and `cursor` are the page's own.
_FILTERS = ("status", "type", "service", "sla", "assignee", "due_after", "due_before", "q")
_SLA = ("on_track", "due_soon", "overdue", "met", "breached")


def _params(request: Request) -> dict[str, Any]:
    """The query string as the API's query model takes it (empty inputs left out)."""
    out: dict[str, Any] = {}
    statuses = [s for s in request.query_params.getlist("status") if s]
    if statuses:
        out["status"] = statuses
    for name in _FILTERS[1:]:
        value = request.query_params.get(name, "").strip()
        if value:
            out[name] = value
    cursor = request.query_params.get("cursor", "").strip()
    if cursor:
        out["cursor"] = cursor
    return out


@router.get("", response_class=HTMLResponse)
def queue(request: Request, staff: ConsoleReader, session: SessionDep, rt: RuntimeDep) -> Any:
    params = _params(request)
    view = "all" if request.query_params.get("view") == "all" else "needs_me"
    errors = FormErrors()
    rows: Any = None
    next_cursor = None
    try:
        query = QueueQuery.model_validate(params)
        result = queue_view(
            session, rt, query, staff, needs_me=view == "needs_me", may_triage=may_triage(staff)
        )
        rows, next_cursor = result.rows, result.next_cursor
    except ValidationError as exc:
        for err in pydantic_field_errors(exc.errors()):
            errors.add(err.field.split(".")[0], err.message)
    except DomainError as exc:  # a bad cursor or assignee: named on its field
        for field_error in exc.errors:
            errors.add(field_error.field, field_error.message)
    filters = {k: v for k, v in params.items() if k != "cursor"}
    base = [("view", view), *_pairs(filters)]
    return page(
        request,
        "staff/queue.html",
        status=422 if errors else 200,
        staff=staff,
        errors=errors,
        view=view,
        rows=rows,
        values=filters,
        statuses=[s.value for s in Status],
        types=list(TYPE_LABELS_KO.items()),
        services=[(s.code, s.name) for s in rt.policy.services],
        service_names={s.code: s.name for s in rt.policy.services},
        sla_states=_SLA,
        workers=case_workers(session),
        next_url=f"/staff?{urlencode([*base, ('cursor', next_cursor)])}" if next_cursor else None,
        first_url=f"/staff?{urlencode(base)}" if params.get("cursor") else None,
        view_urls={v: f"/staff?{urlencode([('view', v), *_pairs(filters)])}"
                   for v in ("needs_me", "all")},
    )  # fmt: skip


def _pairs(filters: dict[str, Any]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in filters.items():
        for one in value if isinstance(value, list) else [value]:
            pairs.append((key, str(one)))
    return pairs


def install_console(app: FastAPI) -> None:
    """The console's routes, and its answers to "not signed in" and "not your page"."""
    app.include_router(console_auth.router)
    app.include_router(router)
    app.include_router(console_board.router)  # the tasks board and the dashboard
    app.include_router(console_request.router)
    app.include_router(console_find.router)  # search by subject, duplicates, bulk actions
    app.include_router(console_find.api_router)

    @app.exception_handler(ConsoleSignInRequired)
    async def _sign_in(request: Request, exc: ConsoleSignInRequired) -> Any:
        nxt = safe_next(exc.next_path)
        return redirect(
            "/staff/login" if nxt == "/staff" else f"/staff/login?{urlencode({'next': nxt})}"
        )

    @app.exception_handler(ConsoleForbidden)
    async def _forbidden(request: Request, exc: ConsoleForbidden) -> HTMLResponse:
        return page(request, "staff/forbidden.html", status=403)
