"""/docs served from a bundled Swagger UI, so it works without reaching a CDN (deployments of
this service often sit on closed networks)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs-assets"


def install_docs(app: FastAPI) -> None:
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="RightsDesk API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )


def register_schema(app: FastAPI, model: type[BaseModel]) -> None:
    """Add a model to components/schemas for routes that read their body themselves."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = build()
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


# --- what a client generator reads -----------------------------------------------------------

PROBLEM_JSON = "application/problem+json"


class ProblemFieldError(BaseModel):
    field: str = Field(description="dotted path of the input, e.g. subject.birth_date")
    code: str = Field(description="the rule broken, e.g. invalid_choice, too_long")
    message: str = Field(description="Korean, for people")
    allowed: list[str] | None = Field(default=None, description="the values that are accepted")
    limit: int | float | str | None = Field(default=None, description="the bound crossed")
    value: str | None = Field(
        default=None, description="the refused code (a vocabulary code, never free text)"
    )


class Problem(BaseModel):
    """Every 4xx/5xx body (RFC 9457, api.md "Errors")."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="stable snake_case machine code")
    errors: list[ProblemFieldError]


# operationId = the route function's name, which a generator turns into the method name
# (`list_requests.sync(client=...)`). The names below read better than the function's, or
# tell a staff route from the public one of the same name.
_STAFF_NAMES = {
    "access_log_view": "read_access_log",
    "approval": "approve_decision",
    "certificate": "get_certificate",
    "create_request": "file_staff_request",
    "decide": "draft_decision",
    "detail": "get_request",
    "identity_check": "record_identity_check",
    "info_request": "send_info_request",
    "me": "whoami",
    "patch_request": "update_request",
    "postpone": "postpone_access",
    "queue": "list_requests",
    "register_csv": "download_register",
    "revoke": "revoke_token",
    "task_queue": "list_all_tasks",
    "tokens": "list_tokens",
    "verify": "verify_audit_trail",
}
_PUBLIC_NAMES = {
    "catalog": "get_catalog",
    "create_request": "file_request",
    "deadlines": "compute_deadline",
    "download_package": "download_access_package",
    "object_to": "object_to_decision",
    "read_request": "read_own_request",
    "reply": "reply_to_info_request",
    "resend": "resend_verification_code",
    "supplement": "add_attachments",
    "verify": "verify_contact",
    "withdraw": "withdraw_request",
}


def operation_id(route: APIRoute) -> str:
    """FastAPI's generate_unique_id_function: one readable, unique name per operation."""
    names = _STAFF_NAMES if route.path_format.startswith("/v1/staff/") else _PUBLIC_NAMES
    return names.get(route.name, route.name)


def document_problems(app: FastAPI) -> None:
    """Every error response in /openapi.json carries the Problem body as
    application/problem+json (FastAPI's own 422 `HTTPValidationError` is not what we send),
    and every operation that takes input documents its 422."""
    register_schema(app, Problem)
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = build()
        problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for item in spec.get("paths", {}).values():
            for op in item.values():
                responses = op.setdefault("responses", {})
                if (op.get("parameters") or op.get("requestBody")) and "422" not in responses:
                    responses["422"] = {"description": "Validation Error"}
                for status, response in responses.items():
                    if status.isdigit() and int(status) >= 400:
                        response["content"] = dict(problem)
                        response.setdefault("description", "Problem")
        schemas = spec.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
