"""Where other departments feed the wards: the laboratory (when it lands) registers a
provider of an admission's investigation results for the discharge summary.

`register(provider)`: provider(admission) returns lines of text ("12-03 Hb 9.8 g/dL").
With no provider, the doctor types the investigations; nothing waits on a module that
is not there.
"""

from __future__ import annotations

from collections.abc import Callable

Provider = Callable[..., list[str]]
_PROVIDERS: list[Provider] = []


def register(provider: Provider) -> None:
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def unregister(provider: Provider) -> None:
    if provider in _PROVIDERS:
        _PROVIDERS.remove(provider)


def investigations(admission) -> str:
    lines: list[str] = []
    for provider in _PROVIDERS:
        lines.extend(provider(admission))
    return "\n".join(lines)
