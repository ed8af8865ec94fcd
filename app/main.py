"""The app factory: create_app(settings) wires routers and error handlers once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.types import ASGIApp

from app.core.access_purpose import AccessPurpose
from app.core.apidocs import document_problems, install_docs, operation_id, register_schema
from app.core.limits import BodySizeLimit, PublicRateLimit, UploadRoutes
from app.core.logredact import install_log_redaction
from app.errors import AnsweredErrors, install_error_handlers
from app.headers import NoStore
from app.migrate import assert_at_head
from app.models.base import utcnow
from app.models.request_api import RequestCreate
from app.proxies import ForwardedHeaders
from app.routers import (
    access_package,
    audit,
    automated,
    clinics,
    decisions,
    integrations,
    members,
    meta,
    public,
    reports,
    staff,
    task_confirm,
    tasks,
    web,
    web_status,
)
from app.routers.console import install_console
from app.routers.integrations import WEBHOOK_PATH
from app.routers.metrics import router as metrics_router
from app.routers.staff_gate import StaffTokenGate
from app.runtime import Runtime, build_runtime
from app.services.jobs import periodic_jobs
from app.services.notices.outbox import BackgroundWorker, Outbox
from app.settings import Settings, get_settings

log = logging.getLogger("rightsdesk")


class RightsDesk(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # Unhandled errors end inside the app, logged without traceback (see AnsweredErrors).
        return AnsweredErrors(super().build_middleware_stack())


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], datetime] = utcnow
) -> FastAPI:
    settings = settings or get_settings()
    runtime = build_runtime(settings, clock=clock)
    install_log_redaction()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Refuse to serve a database that is behind the code: `rightsdesk migrate` first.
        assert_at_head(runtime.engine)
        worker = None
        if settings.embedded_worker:
            worker = BackgroundWorker(
                Outbox(runtime),
                settings.worker_poll_seconds,
                periodic_jobs(runtime),
            )
            worker.start()
        yield
        if worker is not None:
            worker.stop()
        runtime.engine.dispose()

    app = RightsDesk(
        title="RightsDesk",
        version="0.1.0",
        summary="개인정보 열람등요구 처리 — PIPA data-subject rights requests",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    app.state.runtime = runtime
    upload_routes = _install_middleware(app, settings, runtime)
    install_error_handlers(app)
    install_docs(app)
    modules = (
        public,
        staff,
        decisions,
        tasks,
        reports,
        audit,
        meta,
        members,
        integrations,
        task_confirm,
        access_package,
        clinics,
        automated,
    )
    for module in modules:
        app.include_router(module.router)
    app.include_router(clinics.staff_router)  # processor mode: staff and admin routes
    app.include_router(metrics_router)
    web.install_web(app)  # the data subject's web form (HTML) and /static
    install_console(app)  # the staff console (HTML, signed-in sessions) under /staff
    register_schema(app, RequestCreate)
    document_problems(app)
    # Included routers keep their routes (full paths) on the router itself.
    for router in (*(m.router for m in modules), web.router, web_status.router):
        for route in router.routes:
            if isinstance(route, APIRoute) and getattr(route.endpoint, "accepts_files", False):
                upload_routes.add(route.methods, route.path_regex)
    return app


def _install_middleware(app: FastAPI, settings: Settings, runtime: Runtime) -> UploadRoutes:
    """The layers every request passes, innermost first; returns the set of upload routes,
    which the app fills once its routers are included."""
    app.add_middleware(AccessPurpose)
    app.add_middleware(
        PublicRateLimit,
        per_minute=settings.public_rate_limit_per_minute,
        hash_key=runtime.vault.hash_secret,
        now=lambda: runtime.clock().timestamp(),
    )
    upload_routes = UploadRoutes()
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_body_bytes,
        upload_routes=upload_routes,
        per_path={WEBHOOK_PATH: settings.channeltalk_max_body_bytes},
        idle_timeout=settings.body_idle_timeout_seconds,
        total_timeout=settings.body_read_timeout_seconds,
    )
    # A staff route without a valid token is answered before any body is read.
    app.add_middleware(StaffTokenGate, runtime=runtime)
    # Outermost: a 413 or 429 about a request's path is not cached either.
    app.add_middleware(NoStore)
    # Outermost of all: every layer below (rate limits included) sees the real client.
    app.add_middleware(ForwardedHeaders, allow=settings.forwarded_allow_ips)
    return upload_routes


def app_factory() -> FastAPI:
    """Entry point for uvicorn --factory."""
    return create_app()
