"""GET /metrics: Prometheus text for staff tokens, from the collector of app/services/metrics.py."""

from __future__ import annotations

from threading import Lock

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from app.deps import CurrentStaff, RuntimeDep
from app.runtime import Runtime
from app.services.metrics import RightsDeskCollector

_lock = Lock()


def registry_for(request: Request, rt: Runtime) -> CollectorRegistry:
    state = request.app.state
    with _lock:
        registry: CollectorRegistry | None = getattr(state, "metrics_registry", None)
        if registry is None:
            registry = CollectorRegistry()
            registry.register(RightsDeskCollector(rt))
            state.metrics_registry = registry
    return registry


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, rt: RuntimeDep, staff: CurrentStaff) -> Response:
    """Any staff token (the contract lists it with the staff endpoints): counts only, but the
    workload of a privacy office is not for everyone. Give Prometheus its own token
    (`rightsdesk staff add --role admin`, bearer_token in the scrape config)."""
    body = generate_latest(registry_for(request, rt))
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
