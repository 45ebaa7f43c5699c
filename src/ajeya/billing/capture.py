"""Charge capture: services the hospital gave become charges, without the clinical apps
knowing billing exists (ADR 0008).

Each source names what gave rise to a charge ("patients.patient:100000000427",
"opd.visit:81", "lab.item:42", "bed:IP2600000012:2026-11-26"); the database refuses a
second charge for one source, so a capture can run any number of times — the worker
runs it every minute, the counter runs it for one patient when it opens the account,
and a clerk can run `ajeya billing capture`. Posted here:
- registration fee for each new UHID (REG);
- consultation for each OPD visit except a transfer between clinics (CONS);
- each lab test ordered, at its catalogue price code, reversed if it is cancelled
  before its sample was collected;
- a bed-day per midnight spent in a bed, at that bed's category (BED-GEN, BED-ICU, ...);
  a stay that crosses no midnight is one day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ajeya.billing import services
from ajeya.billing.models import Account, AccountKind, Charge, TariffItem
from ajeya.core import clock
from ajeya.ipd.models import Admission, BedStay
from ajeya.lab.models import ItemStatus, OrderItem
from ajeya.ledger.models import LedgerAction, LedgerEntry
from ajeya.opd.models import Visit
from ajeya.patients.models import Patient

BED_CODES = {
    "general": "BED-GEN",
    "semi_private": "BED-SEMI",
    "private": "BED-PVT",
    "hdu": "BED-HDU",
    "icu": "BED-ICU",
}
BATCH = 500


@dataclass
class Captured:
    posted: int = 0
    reversed: int = 0
    unpriced: list[str] = field(default_factory=list)

    def add(self, other: Captured) -> None:
        self.posted += other.posted
        self.reversed += other.reversed
        self.unpriced.extend(other.unpriced)


@dataclass(frozen=True)
class Service:
    source: str
    code: str
    patient: Patient
    admission: Admission | None
    day: dt.date
    department_id: int | None = None
    description: str = ""
    bed_category: str | None = None


def _local_date(value: dt.datetime) -> dt.date:
    return timezone.localdate(value)


def _registrations(since: dt.datetime, patient: Patient | None) -> Iterator[Service]:
    query = Patient.objects.filter(registered_at__gte=since)
    if patient is not None:
        query = query.filter(pk=patient.pk)
    for p in query.iterator(chunk_size=BATCH):
        yield Service(f"patients.patient:{p.uhid}", "REG", p, None, _local_date(p.registered_at))


def _visits(since: dt.datetime, patient: Patient | None) -> Iterator[Service]:
    query = Visit.objects.filter(
        date__gte=_local_date(since), transferred_from__isnull=True
    ).select_related("patient", "clinic")
    if patient is not None:
        query = query.filter(patient=patient)
    for v in query.iterator(chunk_size=BATCH):
        yield Service(
            f"opd.visit:{v.pk}",
            "CONS",
            v.patient,
            None,
            v.date,
            department_id=v.clinic.department_id,
            description=f"OPD consultation, {v.clinic.name}",
        )


def _lab_items(since: dt.datetime, patient: Patient | None) -> Iterator[Service]:
    query = (
        OrderItem.objects.filter(order__ordered_at__gte=since)
        .exclude(price_code="")
        .select_related("order__patient", "order__admission__bed", "panel")
    )
    if patient is not None:
        query = query.filter(order__patient=patient)
    for item in query.iterator(chunk_size=BATCH):
        order = item.order
        yield Service(
            f"lab.item:{item.pk}",
            item.price_code,
            order.patient,
            order.admission,
            _local_date(order.ordered_at),
            description=f"{item.panel.name} (order {order.number})",
        )


def _midnights(start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
    day = _local_date(start) + dt.timedelta(days=1)
    while True:
        midnight = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
        if midnight > end:
            return
        yield midnight
        day += dt.timedelta(days=1)


def _bed_days(since: dt.datetime, patient: Patient | None) -> Iterator[Service]:
    """One bed-day per midnight spent in a bed, charged for the day before it; a stay
    crossing no midnight (day care) is one day at its first bed."""
    now = clock.now()
    query = Admission.objects.filter(Q(status="admitted") | Q(discharged_at__gte=since))
    if patient is not None:
        query = query.filter(patient=patient)
    admissions = list(query.select_related("patient"))
    stays: dict[int, list[BedStay]] = {}
    for stay in (
        BedStay.objects.filter(admission__in=admissions)
        .select_related("bed__ward")
        .order_by("started_at")
    ):
        stays.setdefault(stay.admission_id, []).append(stay)
    for admission in admissions:
        own = stays.get(admission.pk, [])
        if not own:
            continue
        end = admission.discharged_at or now
        nights = 0
        for midnight in _midnights(admission.admitted_at, end):
            stay = next(
                (s for s in own if s.started_at <= midnight and (s.ended_at or now) >= midnight),
                None,
            )
            if stay is None:
                continue
            nights += 1
            yield _bed_day(admission, stay, _local_date(midnight) - dt.timedelta(days=1))
        if nights == 0 and admission.discharged_at is not None:
            yield _bed_day(admission, own[0], _local_date(admission.admitted_at))


def _bed_day(admission: Admission, stay: BedStay, day: dt.date) -> Service:
    bed = stay.bed
    return Service(
        f"bed:{admission.number}:{day.isoformat()}",
        BED_CODES.get(bed.category, "BED-GEN"),
        admission.patient,
        admission,
        day,
        department_id=bed.ward.department_id,
        description=f"Bed {bed.label} ({bed.get_category_display()}), {day:%d-%m-%Y}",
        bed_category=bed.category,
    )


SOURCES = (_registrations, _visits, _lab_items, _bed_days)


def _chunks(items: Iterable[Service], size: int) -> Iterator[list[Service]]:
    chunk: list[Service] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _accounts(services_: list[Service]) -> dict[tuple[int, int | None], Account]:
    keys = {(s.patient.pk, s.admission.pk if s.admission else None): s for s in services_}
    found: dict[tuple[int, int | None], Account] = {}
    patient_ids = {k[0] for k in keys if k[1] is None}
    admission_ids = {k[1] for k in keys if k[1] is not None}
    for account in Account.objects.filter(
        Q(kind=AccountKind.OPD, patient_id__in=patient_ids) | Q(admission_id__in=admission_ids)
    ).select_related("package", "patient"):
        found[(account.patient_id, account.admission_id)] = account
    for key, s in keys.items():
        if key not in found:
            found[key] = services.account_for(patient=s.patient, admission=s.admission)
    return found


def _post(batch: list[Service]) -> Captured:
    done = Captured()
    seen = set(
        Charge.objects.filter(source__in=[s.source for s in batch]).values_list("source", flat=True)
    )
    todo = [s for s in batch if s.source not in seen]
    if not todo:
        return done
    items = {i.code: i for i in TariffItem.objects.filter(code__in={s.code for s in todo})}
    # New accounts first, each in its own transaction: an account number is drawn under
    # a row lock, which must not be taken after this batch's first ledger entry.
    accounts = _accounts(todo)
    with transaction.atomic():
        charges = []
        for s in todo:
            account = accounts[(s.patient.pk, s.admission.pk if s.admission else None)]
            charge = services.build_charge(
                account=account,
                code=s.code,
                service_date=s.day,
                source=s.source,
                description=s.description,
                bed_category=s.bed_category,
                item=items.get(s.code),
            )
            if s.department_id is not None:
                charge.department_id = s.department_id
            if not charge.priced:
                done.unpriced.append(s.code)
            charges.append(charge)
        services.ledger.create_sealed_many(charges, actor=None, reason="charge capture")
    done.posted = len(charges)
    return done


def _reverse_cancelled_lab(since: dt.datetime, patient: Patient | None) -> int:
    """Reverse the charge of each lab test cancelled before its sample was collected."""
    items = OrderItem.objects.filter(
        status=ItemStatus.CANCELLED, order__ordered_at__gte=since
    ).select_related("sample")
    if patient is not None:
        items = items.filter(order__patient=patient)
    by_source = {f"lab.item:{i.pk}": i for i in items}
    if not by_source:
        return 0
    standing = list(
        Charge.objects.filter(source__in=by_source, reverses__isnull=True, reversal=None)
    )
    to_reverse = []
    for charge in standing:
        item = by_source[charge.source]
        collected = item.sample.collected_at
        if collected is None or _cancelled_at(item) < collected:
            to_reverse.append(charge)
    if to_reverse:
        with transaction.atomic():
            services.reverse_charges(
                to_reverse, actor=None, reason="lab test cancelled before collection"
            )
    return len(to_reverse)


def _cancelled_at(item: OrderItem) -> dt.datetime:
    entry = (
        LedgerEntry.objects.filter(
            subject_type="lab.order_item", subject_id=str(item.pk), action=LedgerAction.CANCEL
        )
        .order_by("seq")
        .first()
    )
    return entry.recorded_at if entry is not None else clock.now()


def capture(*, patient: Patient | None = None, days: int | None = None) -> Captured:
    """Post every service given in the last `days` days (default
    AJEYA_BILLING_CAPTURE_DAYS) that has no charge yet; reverse cancelled lab tests."""
    since = clock.now() - dt.timedelta(days=days or settings.AJEYA_BILLING_CAPTURE_DAYS)
    result = Captured()
    for source in SOURCES:
        for batch in _chunks(source(since, patient), BATCH):
            try:
                result.add(_post(batch))
            except IntegrityError:  # another capture posted some of these meanwhile
                result.add(_post(batch))
    result.reversed = _reverse_cancelled_lab(since, patient)
    return result
