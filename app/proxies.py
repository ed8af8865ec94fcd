"""The client's address: read from forwarded headers only when a trusted proxy sent them.

uvicorn's own proxy handling is off (`rightsdesk serve`); this middleware does the same job
for any server, from RIGHTSDESK_FORWARDED_ALLOW_IPS only (empty by default: the connecting
address is the client's). Whatever ends up as the client, only a valid IP address is ever
recorded or used as a rate-limit key (`client_address`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str | None) -> str | None:
    """`text` as a normalised IP address, or None when it is not one (a host name, junk)."""
    if not text or len(text) > 64:
        return None
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_address(scope: Mapping[str, Any]) -> str | None:
    """The client's IP address as the app sees it (after ForwardedHeaders), or None."""
    client = scope.get("client")
    return parse_address(client[0]) if client else None


def _forwarded_host(entry: str) -> str | None:
    """One X-Forwarded-For entry: `1.2.3.4`, `1.2.3.4:5678`, `::1` or `[::1]:5678`."""
    entry = entry.strip()
    if entry.startswith("["):
        entry = entry[1 : entry.find("]")] if "]" in entry else ""
    elif entry.count(":") == 1:
        entry = entry.split(":", 1)[0]
    return parse_address(entry)


def trusted_networks(setting: str) -> tuple[bool, tuple[_Network, ...]]:
    """(trust every peer, the trusted networks) from FORWARDED_ALLOW_IPS."""
    entries = [e.strip() for e in setting.split(",") if e.strip()]
    networks = []
    for entry in entries:
        if entry == "*":
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(
                f"RIGHTSDESK_FORWARDED_ALLOW_IPS: {entry!r} is not an IP address or network"
            ) from None
    return "*" in entries, tuple(networks)


class ForwardedHeaders:
    """Sets the client (X-Forwarded-For) and scheme (X-Forwarded-Proto) from a trusted peer.

    The client is the first address from the right that is not itself a trusted proxy; an
    entry that is not an address stops the walk, so junk never becomes the client (the last
    trusted hop stays)."""

    def __init__(self, app: ASGIApp, *, allow: str) -> None:
        self.app = app
        self.trust_all, self.networks = trusted_networks(allow)

    def _trusted(self, address: str | None) -> bool:
        if address is None:
            return False
        if self.trust_all:
            return True
        ip: _Address = ipaddress.ip_address(address)
        return any(ip in net for net in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and (self.trust_all or self.networks):
            peer = client_address(scope)
            if self._trusted(peer):
                self._apply(scope, peer)
        await self.app(scope, receive, send)

    def _apply(self, scope: Scope, peer: str | None) -> None:
        forwarded: list[str] = []
        proto = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                forwarded.extend(value.decode("latin-1").split(","))
            elif name == b"x-forwarded-proto":
                proto = value.decode("latin-1").split(",")[-1].strip().lower()
        client = peer
        for entry in reversed(forwarded):
            host = _forwarded_host(entry)
            if host is None:
                break
            client = host
            if not self._trusted(host):
                break
        if client is not None and client != peer:
            scope["client"] = (client, 0)
        if proto in ("http", "https") and scope["type"] == "http":
            scope["scheme"] = proto
