"""The hook by which a department's app receives the orders doctors write in OPD.

A department registers one handler per order kind at start-up (the laboratory will:
`orders.register(OrderKind.LAB, lab.services.order_from_opd)`). When a consultation
is saved, each order is handed to its handler in the same transaction; the handler
creates the department's own record and returns its reference. With no handler yet,
the order stays REQUESTED and `pending()` lists it, so nothing is lost meanwhile; so does
an order the handler cannot place (it returns None). A department may also register a
`check` that the consultation form runs first, so the doctor hears at once that a test
is not one the department does.
"""

from __future__ import annotations

from collections.abc import Callable

from ajeya.opd.models import ClinicalOrder, OrderStatus

Handler = Callable[..., str | None]  # handler(order=, actor=) -> reference, or None
Check = Callable[[str], str | None]  # check(test name) -> why it cannot be taken, or None
_HANDLERS: dict[str, Handler] = {}
_CHECKS: dict[str, Check] = {}


def register(kind: str, handler: Handler, check: Check | None = None) -> Handler | None:
    """Install the department's handler (and a check run while the doctor's form is
    validated); returns the handler it replaced, so a test can put it back."""
    previous = _HANDLERS.get(kind)
    _HANDLERS[kind] = handler
    if check is not None:
        _CHECKS[kind] = check
    else:
        _CHECKS.pop(kind, None)
    return previous


def unregister(kind: str) -> None:
    _HANDLERS.pop(kind, None)
    _CHECKS.pop(kind, None)


def check(kind: str, test: str) -> str | None:
    """Why the department cannot take this order, or None (also when no check exists)."""
    checker = _CHECKS.get(kind)
    return checker(test) if checker is not None else None


def dispatch(order: ClinicalOrder, *, actor) -> ClinicalOrder:
    """Hand a new order to its department, if one takes this kind; the caller saves."""
    handler = _HANDLERS.get(order.kind)
    reference = handler(order=order, actor=actor) if handler is not None else None
    if reference:
        order.reference = reference
        order.status = OrderStatus.PLACED
    return order


def pending(kind: str | None = None):
    q = ClinicalOrder.objects.filter(status=OrderStatus.REQUESTED)
    if kind:
        q = q.filter(kind=kind)
    return q.select_related("consultation__visit__patient", "consultation__doctor")
