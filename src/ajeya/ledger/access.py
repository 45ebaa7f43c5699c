"""What a page calls when it shows who a patient is (ARCHITECTURE §3): one access
entry per patient shown, in the access chain."""

from __future__ import annotations

from collections.abc import Iterable

from ajeya.ledger import services
from ajeya.ledger.models import AccessKind


def seen(request, uhids: Iterable[str], what: AccessKind) -> None:
    services.patients_accessed(actor=request.user, uhids=uhids, what=what)
