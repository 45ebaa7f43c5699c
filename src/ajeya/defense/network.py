"""Where an address is: its country from offline registry data (`iptocc`: no lookup
leaves the machine), or the hospital's own network (private, loopback, link-local)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

import iptocc


@dataclass(frozen=True)
class Place:
    ip: str
    country: str  # ISO 3166 code, "" when internal or unknown
    internal: bool

    @property
    def label(self) -> str:
        """What the rules compare and the timeline shows: "IN", "CN", "LAN", "unknown"."""
        if self.internal:
            return "LAN"
        return self.country or "unknown"


@lru_cache(maxsize=65536)
def place(ip: str) -> Place:
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return Place(ip, "", False)
    if address.is_private or address.is_loopback or address.is_link_local:
        return Place(ip, "", True)
    return Place(ip, iptocc.country_code(str(address)) or "", False)
