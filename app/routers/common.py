"""Small HTTP helpers shared by the routers (their dependencies are in app/deps.py)."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from app.proxies import client_address


def client_ip(request: Request) -> str | None:
    """The client's IP address (forwarded only by a trusted proxy), None if not an address."""
    return client_address(request.scope)


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Declare the problem+json responses a route can give, for /docs."""
    return {c: {"content": {"application/problem+json": {}}} for c in codes}


def created_headers(response: Response, location: str, *, replayed: bool) -> None:
    """201 headers of a filing: where it lives, and whether this is an idempotent replay."""
    response.headers["Location"] = location
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
