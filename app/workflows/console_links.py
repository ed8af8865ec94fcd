"""Where staff-facing e-mails point: the console's pages, never an API path (issue 22, 9).

PUBLIC_BASE_URL is the address staff reach the service at; without it the link is the
console path alone, which still tells a reader where to go once signed in.
"""

from __future__ import annotations


def _base(public_base_url: str | None) -> str:
    return (public_base_url or "").rstrip("/")


def request_page_url(public_base_url: str | None, reference: str) -> str:
    """One request's page in the console (a reference is letters, digits and dashes)."""
    return f"{_base(public_base_url)}/staff/requests/{reference}"


def tasks_board_url(public_base_url: str | None) -> str:
    """The console's tasks board (every open and overdue task across requests)."""
    return f"{_base(public_base_url)}/staff/tasks"
