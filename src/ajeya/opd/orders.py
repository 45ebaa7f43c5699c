"""The hook by which a department's app receives the orders doctors write in OPD.

A department registers one handler per order kind at start-up (the laboratory will:
`orders.register(OrderKind.LAB, lab.services.order_from_opd)`). When a consultation
is saved, each order is handed to its handler in the same transaction; the handler
creates the department's own record and returns its reference. With no handler yet,
the order stays REQUESTED and `pending()` lists it, so nothing is lost meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable

from ajeya.opd.models import ClinicalOrder, OrderStatus

Handler = Callable[..., str]  # handler(order=ClinicalOrder, actor=User) -> reference
_HANDLERS: dict[str, Handler] = {}


def register(kind: str, handler: Handler) -> None:
    _HANDLERS[kind] = handler


def unregister(kind: str) -> None:
    _HANDLERS.pop(kind, None)


def dispatch(order: ClinicalOrder, *, actor) -> ClinicalOrder:
    """Hand a new order to its department, if one takes this kind; the caller saves."""
    handler = _HANDLERS.get(order.kind)
    if handler is not None:
        order.reference = handler(order=order, actor=actor)
        order.status = OrderStatus.PLACED
    return order


def pending(kind: str | None = None):
    q = ClinicalOrder.objects.filter(status=OrderStatus.REQUESTED)
    if kind:
        q = q.filter(kind=kind)
    return q.select_related("consultation__visit__patient", "consultation__doctor")
