"""Domain errors and the one place they become application/problem+json (RFC 9457)."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from app.textsafety import MESSAGES as TEXT_RULES
from app.textsafety import violation

log = logging.getLogger("rightsdesk.errors")

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    message: str
    # Additive keys that teach the caller (api.md "Errors" keeps field, code, message): the
    # values that would have been accepted, the bound that was crossed, and the vocabulary
    # code that was refused (a code of the catalog's shape, never free text).
    allowed: tuple[str, ...] | None = None
    limit: int | float | str | None = None
    value: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "code": self.code, "message": self.message}
        if self.allowed is not None:
            out["allowed"] = list(self.allowed)
        if self.limit is not None:
            out["limit"] = self.limit
        if self.value is not None:
            out["value"] = self.value
        return out


class DomainError(Exception):
    status: int = 400
    code: str = "bad_request"
    title: str = "잘못된 요청입니다."
    # For an upload refused mid-stream: the text fields read before the refusal, so a web
    # form can come back with what the person typed.
    partial_fields: dict[str, list[str]] | None = None
    # For a file refused mid-stream: the form input it came from, so a web page can put the
    # error beside that input (the API names it by position, `attachments.N`).
    file_input: str | None = None
    # A refusal whose work must still be kept (a wrong one-time code counts as an attempt):
    # the request's session commits, instead of rolling back, before it becomes the response.
    commit: bool = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[FieldError] = (),
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = list(errors)
        if code:
            self.code = code
        self.headers = headers or {}


class ValidationFailed(DomainError):
    status, code, title = 422, "validation_error", "입력값이 올바르지 않습니다."


def check_text(value: str, *, field: str, multiline: bool) -> None:
    """The text rules (app/textsafety.py) for a value that no input model reads (an HTML form
    field): ValidationFailed naming the field and the rule."""
    rule = violation(value, multiline=multiline)
    if rule is not None:
        message = TEXT_RULES[rule]
        raise ValidationFailed(message, errors=[FieldError(field, rule, message)])


class BusinessRuleViolation(DomainError):
    """A refusal under a rule of the law or the policy; `code` names the rule."""

    status, code, title = 422, "business_rule_violation", "요청을 받을 수 없습니다."

    def __init__(
        self,
        code: str,
        field: str,
        message: str,
        *,
        allowed: Sequence[str] | None = None,
        value: str | None = None,
        errors: Sequence[FieldError] = (),
    ) -> None:
        first = FieldError(
            field, code, message, tuple(allowed) if allowed is not None else None, value=value
        )
        super().__init__(message, errors=list(errors) or [first], code=code)


# A staff member's action refused by a rule: the title says the *action* cannot be done, so it
# never reads as if the subject's request were refused (that is a decision, not an error).
STAFF_REFUSAL_TITLE = "이 처리 작업은 규칙상 할 수 없습니다."
_STAFF_PREFIX = "/v1/staff/"


class Unauthenticated(DomainError):
    status, code, title = 401, "unauthenticated", "인증이 필요합니다."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class WebhookTokenInvalid(DomainError):
    """A webhook delivery without the shared token (Channel Talk's own never lacks it)."""

    status, code, title = 401, "invalid_webhook_token", "웹훅 토큰이 올바르지 않습니다."


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "이 작업을 할 권한이 없습니다."


class NotFound(DomainError):
    status, code, title = 404, "not_found", "찾을 수 없습니다."


class Conflict(DomainError):
    status, code, title = 409, "conflict", "현재 상태에서는 처리할 수 없습니다."


class InvalidTransition(Conflict):
    code, title = "invalid_transition", "현재 상태에서는 이 단계로 바꿀 수 없습니다."


class PreconditionRequired(DomainError):
    status, code, title = 428, "precondition_required", "If-Match 헤더가 필요합니다."


class VersionMismatch(DomainError):
    status, code, title = 412, "version_mismatch", "그사이 다른 사람이 요청을 변경했습니다."


class RateLimited(DomainError):
    status, code, title = 429, "rate_limited", "잠시 후 다시 시도해 주세요."

    def __init__(self, detail: str, *, retry_after: timedelta, field: str | None = None) -> None:
        seconds = max(1, math.ceil(retry_after.total_seconds()))
        errors = [FieldError(field, "too_many_attempts", detail)] if field else []
        super().__init__(detail, errors=errors, headers={"Retry-After": str(seconds)})


class PayloadTooLarge(DomainError):
    status, code, title = 413, "payload_too_large", "요청 본문이 너무 큽니다."


class UnsupportedMediaType(DomainError):
    status, code, title = 415, "unsupported_media_type", "지원하지 않는 형식입니다."


def problem_response(exc: DomainError, *, path: str = "") -> JSONResponse:
    return problem(exc.status, exc.code, _title(exc, path), exc.detail, exc.errors, exc.headers)


def _title(exc: DomainError, path: str) -> str:
    if path.startswith(_STAFF_PREFIX) and isinstance(exc, BusinessRuleViolation):
        return STAFF_REFUSAL_TITLE
    return exc.title


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": [e.as_dict() for e in errors],
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


# Korean messages for pydantic's error types; the input value itself is never echoed.
_PYDANTIC_MESSAGES = {
    "missing": ("required", "필수 항목입니다."),
    "literal_error": ("invalid_choice", "허용되지 않는 값입니다."),
    "enum": ("invalid_choice", "허용되지 않는 값입니다."),
    "date_from_datetime_parsing": ("invalid_date", "날짜 형식(YYYY-MM-DD)이 아닙니다."),
    "date_parsing": ("invalid_date", "날짜 형식(YYYY-MM-DD)이 아닙니다."),
    "date_type": ("invalid_date", "날짜 형식(YYYY-MM-DD)이 아닙니다."),
    "datetime_parsing": ("invalid_datetime", "시각 형식(RFC 3339)이 아닙니다."),
    "datetime_from_date_parsing": ("invalid_datetime", "시각 형식(RFC 3339)이 아닙니다."),
    "timezone_aware": ("timezone_required", "시간대(예: +09:00)를 포함해야 합니다."),
    "string_too_long": ("too_long", "너무 깁니다."),
    "string_too_short": ("too_short", "너무 짧습니다."),
    "too_long": ("too_many", "항목이 너무 많습니다."),
    "too_short": ("too_few", "항목이 부족합니다."),
    "value_error": ("invalid", "올바른 값이 아닙니다."),
    "string_type": ("invalid_type", "문자열이어야 합니다."),
    "int_parsing": ("invalid_type", "정수여야 합니다."),
    "less_than_equal": ("too_large", "허용 범위를 넘었습니다."),
    "greater_than_equal": ("too_small", "허용 범위보다 작습니다."),
    "extra_forbidden": ("unknown_field", "알 수 없는 항목입니다."),
    "json_invalid": ("invalid_json", "JSON 형식이 올바르지 않습니다."),
    "model_attributes_type": ("invalid_type", "객체(JSON object)여야 합니다."),
    "dict_type": ("invalid_type", "객체(JSON object)여야 합니다."),
    "list_type": ("invalid_type", "목록(JSON array)이어야 합니다."),
    # The text rules of app/textsafety.py: the error type is the rule's code.
    **{rule: (rule, message) for rule, message in TEXT_RULES.items()},
}
_BAD_EMAIL = "이메일 주소 형식이 올바르지 않습니다."

_LOCATION_PREFIXES = {"body", "query", "header", "path", "cookie"}


def field_path(loc: Sequence[Any]) -> str:
    parts = list(loc)
    if parts and parts[0] in _LOCATION_PREFIXES:
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or "body"


# The bound each length or range error crossed: pydantic's context key, and how the Korean
# message states it.
_BOUNDS = {
    "string_too_long": ("max_length", "{}자 이하여야 합니다."),
    "string_too_short": ("min_length", "{}자 이상이어야 합니다."),
    "too_long": ("max_length", "{}개 이하여야 합니다."),
    "too_short": ("min_length", "{}개 이상이어야 합니다."),
    "less_than_equal": ("le", "{} 이하여야 합니다."),
    "greater_than_equal": ("ge", "{} 이상이어야 합니다."),
    "less_than": ("lt", "{} 미만이어야 합니다."),
    "greater_than": ("gt", "{} 초과여야 합니다."),
}
_QUOTED = re.compile(r"'([^']*)'")


def allowed_values(expected: str) -> tuple[str, ...]:
    """pydantic's `expected` ("'a', 'b' or 'c'") as the values themselves."""
    return tuple(_QUOTED.findall(expected))


def choice_message(allowed: Sequence[str]) -> str:
    return f"허용되지 않는 값입니다. 가능한 값: {', '.join(allowed)}"


def pydantic_field_errors(raw: Sequence[Any]) -> list[FieldError]:
    out = []
    for err in raw:
        kind = err.get("type", "")
        ctx = err.get("ctx") or {}
        if kind in ("too_long", "too_short") and isinstance(err.get("input"), str):
            # A length bound on a constrained text type reaches pydantic's generic check: it is
            # still a length in characters, not a count of items.
            kind = f"string_{kind}"
        code, message = _PYDANTIC_MESSAGES.get(kind, ("invalid", ""))
        allowed: tuple[str, ...] | None = None
        limit: int | float | str | None = None
        if code == "invalid_choice" and ctx.get("expected"):
            # A closed set (an identity method, an outcome): the schema's allowed values,
            # never the input, so they are safe to name.
            allowed = allowed_values(str(ctx["expected"]))
            message = choice_message(allowed)
        if kind in _BOUNDS and _BOUNDS[kind][0] in ctx:
            key, template = _BOUNDS[kind]
            bound = ctx[key]
            limit = bound if isinstance(bound, int | float) else str(bound)
            message = f"{message} {template.format(limit)}"
        if kind == "value_error" and ctx.get("error"):
            # Our own validators raise ValueError with a Korean message meant for people;
            # email-validator's are English and name the offending character.
            message = str(ctx["error"])
            if message.startswith("value is not a valid email address"):
                message = _BAD_EMAIL
        out.append(
            FieldError(
                field_path(err.get("loc", ())),
                code,
                message or "올바르지 않은 값입니다.",
                allowed=allowed,
                limit=limit,
            )
        )
    return out


# The domain checks of a route's body that can still run when its validation failed: called
# with the request, the parsed JSON body and the top-level fields that failed; they return
# the domain errors of the rest, answered with the validation errors in one 422.
BodyChecks = Callable[[Request, dict[str, Any], frozenset[str]], list[FieldError]]
F = TypeVar("F", bound=Callable[..., Any])


def body_checks(checks: BodyChecks) -> Callable[[F], F]:
    """Mark a route: its body's domain checks run beside its validation errors."""

    def mark(endpoint: F) -> F:
        endpoint.body_checks = checks  # type: ignore[attr-defined]
        return endpoint

    return mark


def failed_fields(raw: Sequence[Any]) -> frozenset[str]:
    """The top-level body fields pydantic refused."""
    out = set()
    for err in raw:
        loc = [p for p in err.get("loc", ()) if p != "body"]
        if loc:
            out.add(str(loc[0]))
    return frozenset(out)


async def _domain_too(request: Request, exc: RequestValidationError) -> list[FieldError]:
    checks: BodyChecks | None = getattr(request.scope.get("endpoint"), "body_checks", None)
    body = getattr(exc, "body", None)
    if checks is None or not isinstance(body, dict):
        return []
    try:
        # The checks may read the database: off the event loop.
        return await run_in_threadpool(checks, request, body, failed_fields(exc.errors()))
    except DomainError:
        return []  # e.g. the request is gone: the validation errors stand alone


def validation_failed(raw: Sequence[Any], more: Sequence[FieldError] = ()) -> ValidationFailed:
    """One 422 for every bad field of a body: pydantic's, then any domain errors found in the
    parts that did validate."""
    errors = [*pydantic_field_errors(raw), *more]
    detail = "입력값을 확인해 주세요: " + ", ".join(sorted({e.field for e in errors}))
    return ValidationFailed(detail, errors=errors)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(exc, path=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        more = await _domain_too(request, exc)
        return problem_response(validation_failed(exc.errors(), more), path=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's "There was an error parsing the body" (e.g. not UTF-8): the same
            # answer as any unreadable JSON body.
            detail = "본문을 UTF-8 JSON으로 읽을 수 없습니다."
            return problem(422, "invalid_json", ValidationFailed.title, detail)
        codes = {
            404: ("not_found", NotFound.title),
            405: ("method_not_allowed", "허용되지 않는 메서드입니다."),
        }
        code, title = codes.get(exc.status_code, ("http_error", "요청을 처리할 수 없습니다."))
        return problem(exc.status_code, code, title, title, headers=dict(exc.headers or {}))

    @app.exception_handler(StaleDataError)
    async def _stale(_: Request, exc: StaleDataError) -> JSONResponse:
        # Another writer changed the request between our read and our UPDATE ... WHERE version.
        return problem_response(
            VersionMismatch("그사이 다른 사람이 요청을 변경했습니다. 다시 조회한 뒤 시도해 주세요.")
        )

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> JSONResponse:
        # The client went away (or the body-size cap cut it off and already answered 413).
        log.info("client disconnected during %s %s", request.method, request.url.path)
        return problem(400, "client_disconnected", "요청이 중간에 끊겼습니다.", "다시 보내 주세요.")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # The message may carry personal data (an SQL error quotes the statement and its
        # parameters); log the type, the route and where in our code it happened, only.
        log.error(
            "unhandled %s on %s %s%s",
            type(exc).__name__,
            request.method,
            request.url.path,
            _where(exc),
        )
        _answered.add(id(exc))
        title = "서버 오류가 발생했습니다."
        return problem(500, "internal_error", title, "잠시 후 다시 시도해 주세요.")


# Ids of exceptions `_unexpected` has logged and answered, until `AnsweredErrors` sees them.
_answered: set[int] = set()
_APP_DIR = Path(__file__).resolve().parent


def _where(exc: BaseException) -> str:
    """' at app/x.py:12': the innermost frame of this package (file and line, no values)."""
    found = ""
    tb = exc.__traceback__
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename)
        if path.is_relative_to(_APP_DIR):
            found = f" at app/{path.relative_to(_APP_DIR).as_posix()}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


class AnsweredErrors:
    """The outermost ASGI layer. Starlette re-raises an unhandled error after its handler
    (`_unexpected`) has answered 500, "so that servers can log it": uvicorn then prints the
    whole traceback, with the exception's text, SQL statements and their parameters among
    it. Here the error stops: it has been logged, redacted, and answered. One that did not
    pass through the handler is logged the same way (type only), never with a traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            if id(exc) in _answered:
                _answered.discard(id(exc))
            else:
                log.error("unhandled %s%s", type(exc).__name__, _where(exc))
