"""Small HTTP helpers shared by the routers (their dependencies are in app/deps.py)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel

from app.proxies import client_address

ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    """Every staff list has the queue's shape; `next_cursor` is null on the last page (and on
    lists that come whole, bounded by `limit`)."""

    items: list[ItemT]
    next_cursor: str | None = None


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
