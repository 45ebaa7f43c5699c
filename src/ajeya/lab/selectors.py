"""Reads for the laboratory's pages, the wards and the report checker."""

from __future__ import annotations

from django.db.models import Case, IntegerField, Prefetch, Value, When

from ajeya.core import clock
from ajeya.lab.models import (
    PRIORITY_RANK,
    CriticalAlert,
    ItemStatus,
    LabOrder,
    OrderItem,
    Result,
    ResultStatus,
    Sample,
    SampleStatus,
)

_PRIORITY_ORDER = Case(
    *(When(order__priority=p, then=Value(rank)) for p, rank in PRIORITY_RANK.items()),
    output_field=IntegerField(),
)


def live_results(sample: Sample):
    """The results shown for a sample: amended ones are history, not the current value."""
    return (
        Result.objects.filter(item__sample=sample)
        .exclude(status=ResultStatus.AMENDED)
        .exclude(item__status=ItemStatus.CANCELLED)
        .select_related("test", "item__panel", "verified_by", "authorised_by")
        .order_by("item_id", "position")
    )


def order_detail(number: str) -> LabOrder:
    return (
        LabOrder.objects.select_related("patient", "doctor", "ordered_by", "admission", "visit")
        .prefetch_related(
            Prefetch("samples", queryset=Sample.objects.order_by("accession")),
            Prefetch("items", queryset=OrderItem.objects.select_related("panel", "sample")),
            "reports",
        )
        .get(number=number)
    )


def collection_list(*, section: str | None = None):
    """Samples waiting to be drawn, STAT first, then oldest first."""
    q = Sample.objects.filter(status=SampleStatus.AWAITING).select_related(
        "order__patient", "order__admission__bed", "recollection_of"
    )
    if section:
        q = q.filter(section=section)
    return q.annotate(rank=_PRIORITY_ORDER).order_by("rank", "order__ordered_at")


def section_worklist(section: str):
    """Received samples of one section with results still to enter, verify or authorise."""
    return (
        Sample.objects.filter(status=SampleStatus.RECEIVED, section=section)
        .filter(
            items__status__in=(ItemStatus.ORDERED, ItemStatus.IN_PROGRESS),
        )
        .distinct()
        .select_related("order__patient")
        .annotate(rank=_PRIORITY_ORDER)
        .order_by("rank", "received_at")
    )


def open_alerts_for(user):
    return (
        CriticalAlert.objects.filter(doctor=user, acknowledged_at__isnull=True)
        .select_related("result__test", "patient", "result__item__order")
        .order_by("raised_at")
    )


def open_alert_count(user) -> int:
    return CriticalAlert.objects.filter(doctor=user, acknowledged_at__isnull=True).count()


def investigations_for_admission(admission) -> list[str]:
    """Authorised results of the tests ordered during an admission, one line each, for
    the discharge summary (registered with `ipd.hooks`)."""
    rows = (
        Result.objects.filter(item__order__admission=admission, status=ResultStatus.AUTHORISED)
        .select_related("test")
        .order_by("authorised_at", "item_id", "position")
    )
    lines = []
    for r in rows:
        when = clock.local(r.authorised_at).strftime("%d-%m")
        flag = f" {r.flag}" if r.flag else ""
        lines.append(f"{when} {r.test.name} {r.value} {r.unit}".rstrip() + flag)
    return lines
