"""Every write in the laboratory: orders, samples, results, validation, reports, alerts
and analyzer messages — each on the ledger, each all or nothing.

A result moves PENDING → ENTERED (by hand or from an analyzer) → VERIFIED (a
technician) → AUTHORISED (a pathologist who is not the verifier; the database also
refuses the same person). Authorising issues a new report version whose hash the
ledger keeps. An authorised result is never edited: an amendment marks it AMENDED and
adds a new row that goes through verification again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import SimpleNamespace

from django.db import IntegrityError, connection, transaction
from django.db.models import Prefetch

from ajeya.core import clock, context, identifiers
from ajeya.core import rows as raw
from ajeya.core.bulk import insert_returning_ids, update_rows
from ajeya.core.errors import Conflict, NotFound, ValidationFailed
from ajeya.core.locking import locked
from ajeya.core.roles import Perm, has_perm, require_perm
from ajeya.core.validation import require_reason
from ajeya.lab import cache
from ajeya.lab.catalogue import DAYS_PER_YEAR
from ajeya.lab.models import (
    CRITICAL_FLAGS,
    CriticalAlert,
    Flag,
    InboundMessage,
    ItemStatus,
    LabOrder,
    LabTest,
    MessageStatus,
    OrderItem,
    OrderSource,
    Panel,
    Priority,
    ReferenceRange,
    RejectionReason,
    Report,
    Result,
    ResultSource,
    ResultStatus,
    ResultType,
    Sample,
    SampleStatus,
)
from ajeya.ledger import services as ledger
from ajeya.ledger.canonical import canonical_bytes, state_hash
from ajeya.ledger.models import LedgerAction
from ajeya.ledger.registry import for_model, seal, state_of
from ajeya.patients.models import Patient

MAX_PANELS_PER_ORDER = 20
MAX_VALUE = Decimal("9999999999")
ACCESSION_LENGTH = 10
REASON_LENGTH = 200


# -- identifiers -----------------------------------------------------------------------


def make_accession(serial: int, year: int) -> str:
    """Two digits of the year, a 7-digit serial, a Verhoeff check digit: 10 digits that a
    Code 128 label carries and a scanner or a tired hand cannot silently get wrong."""
    if not 1 <= serial < 10**7:
        raise ValueError(f"accession serial {serial} is out of range")
    body = f"{year % 100:02d}{serial:07d}"
    return body + identifiers.verhoeff_check_digit(body)


def normalise_accession(text: str) -> str:
    """The accession as scanned or typed; ValidationFailed names what is wrong."""
    value = "".join(ch for ch in (text or "") if ch not in " -")
    if not value:
        raise ValidationFailed({"accession": ["Scan or type the sample's accession number."]})
    if not value.isdigit() or len(value) != ACCESSION_LENGTH:
        raise ValidationFailed(
            {"accession": [f"{text.strip()!r} is not an accession number (10 digits)."]}
        )
    if not identifiers.verhoeff_valid(value):
        raise ValidationFailed(
            {"accession": [f"{value} fails its check digit: rescan the label or retype it."]}
        )
    return value


def _allocate_accessions(count: int) -> list[str]:
    year = clock.today().year
    first = identifiers.allocate(f"accession:{year}", count)
    return [make_accession(first + n, year) for n in range(count)]


def _allocate_order_number() -> str:
    year = clock.today().year
    serial = identifiers.allocate(f"laborder:{year}")
    return f"L{year % 100:02d}{serial:07d}"


# -- catalogue look-ups ----------------------------------------------------------------


def _panels_with_tests():
    return Panel.objects.filter(is_active=True).prefetch_related(
        Prefetch("items__test", queryset=LabTest.objects.all())
    )


MIN_PREFIX = 4


def find_panels(names: list[str]) -> tuple[list[Panel], list[str]]:
    """Resolve what was ordered: a panel's code, its name, or the unique start of its
    name ("Dengue NS1" for "Dengue NS1 antigen"), in any case. Returns the panels found
    and one message per name that is unknown, ambiguous or repeated."""
    wanted = [" ".join(n.split()) for n in names if n and n.strip()]
    panels = list(_panels_with_tests())
    found: list[Panel] = []
    problems: list[str] = []
    for name in wanted:
        panel, problem = _resolve(name, panels)
        if problem:
            problems.append(problem)
        elif panel in found:
            problems.append(f"{panel.name} is ordered twice.")
        else:
            found.append(panel)
    return found, problems


def _resolve(name: str, panels: list[Panel]) -> tuple[Panel | None, str]:
    key = name.casefold()
    for panel in panels:
        if key in (panel.code.casefold(), panel.name.casefold()):
            return panel, ""
    starts = [p for p in panels if len(key) >= MIN_PREFIX and p.name.casefold().startswith(key)]
    if len(starts) == 1:
        return starts[0], ""
    if starts:
        return None, (
            f"{name!r} could be {', '.join(p.name for p in starts[:4])}: name one of them."
        )
    return None, f"Unknown test {name!r}: choose one from the laboratory catalogue."


def order_check(test: str) -> str | None:
    """The OPD form's check of a lab order line (see `opd.orders`): None when the
    catalogue has the test, or when no catalogue is loaded yet (the order then waits)."""
    panels = list(_panels_with_tests())
    if not panels:
        return None
    _, problem = _resolve(" ".join(test.split()), panels)
    return problem or None


# -- orders ----------------------------------------------------------------------------


def _overlaps(panels: list[Panel]) -> dict[str, list[str]]:
    """Two ordered panels that share a test (KFT and electrolytes) would measure it twice
    on one sample, and an analyzer's value would reach only one of them."""
    first_in: dict[int, Panel] = {}
    shared: dict[tuple[Panel, Panel], list[str]] = {}
    for panel in panels:
        for member in panel.items.all():
            earlier = first_in.setdefault(member.test_id, panel)
            if earlier is not panel:
                shared.setdefault((earlier, panel), []).append(member.test.name)
    return (
        {
            "tests": [
                f"{a.name} and {b.name} both include {', '.join(names)}: order one of them."
                for (a, b), names in shared.items()
            ]
        }
        if shared
        else {}
    )


def order_create(
    *,
    actor,
    patient: Patient,
    tests: list[str],
    source: str,
    priority: str = Priority.ROUTINE,
    doctor=None,
    visit=None,
    admission=None,
    referring_doctor: str = "",
    clinical_notes: str = "",
    preallocated_accession: str = "",
    ordered_at: dt.datetime | None = None,
    reason: str = "",
) -> LabOrder:
    """A requisition: the ordered panels are grouped into one sample per container and
    section, each with its own accession number and a pending result for every test.

    A back-entered paper requisition (downtime) brings its tube's pre-printed accession,
    the time on paper and its provenance as the ledger reason: its tests must then fit
    in that one tube."""
    require_perm(actor, Perm.LAB_COUNTER if source == OrderSource.WALK_IN else Perm.LAB_ORDER)
    errors: dict[str, list[str]] = {}
    panels, problems = find_panels(tests)
    if problems:
        errors["tests"] = problems
    elif not panels:
        errors["tests"] = ["Choose at least one test."]
    elif len(panels) > MAX_PANELS_PER_ORDER:
        errors["tests"] = [f"At most {MAX_PANELS_PER_ORDER} tests in one order."]
    else:
        errors.update(_overlaps(panels))
    if priority not in Priority.values:
        errors["priority"] = [f"Unknown priority {priority!r}: routine, urgent or STAT."]
    if source not in OrderSource.values:
        errors["source"] = [f"Unknown order source {source!r}."]
    # A visit or an admission names where the order came from, and its results reach that
    # record (the discharge summary): never another patient's, never with another source.
    if (source == OrderSource.OPD) != (visit is not None) or (
        visit is not None and visit.patient_id != patient.pk
    ):
        errors["visit"] = ["An OPD order belongs to one of this patient's visits."]
    if (source == OrderSource.IPD) != (admission is not None) or (
        admission is not None and admission.patient_id != patient.pk
    ):
        errors["admission"] = ["An inpatient order belongs to this patient's admission."]
    if source != OrderSource.WALK_IN and doctor is None:
        doctor = actor  # the ordering doctor hears of the report and any critical value
    if doctor is not None and not has_perm(doctor, Perm.LAB_ALERT_ACK):
        errors["doctor"] = [f"{doctor} is not a doctor: name the doctor who ordered the tests."]
    referring_doctor = " ".join(referring_doctor.split())
    if source == OrderSource.WALK_IN and doctor is None and not referring_doctor:
        errors["referring_doctor"] = ["Name the referring doctor, as on the prescription."]
    if len(referring_doctor) > 100:
        errors["referring_doctor"] = ["A doctor's name is at most 100 characters."]
    if len(clinical_notes.strip()) > 300:
        errors["clinical_notes"] = ["Clinical notes are at most 300 characters."]
    if errors:
        raise ValidationFailed(errors)

    groups: dict[tuple[str, str, str], list[Panel]] = {}
    for panel in panels:
        first = panel.items.all()[0].test
        groups.setdefault((first.container, first.specimen, panel.section), []).append(panel)
    if preallocated_accession and len(groups) > 1:
        raise ValidationFailed(
            {"tests": ["These tests go in different tubes: enter each labelled tube on its own ("
                       + "; ".join(", ".join(p.name for p in g) for g in groups.values()) + ")."]}
        )  # fmt: skip

    with transaction.atomic():
        if admission is not None:
            from ajeya.ipd.models import Admission, AdmissionStatus

            current = locked(Admission.objects).get(pk=admission.pk)
            if current.status != AdmissionStatus.ADMITTED:
                raise Conflict(
                    f"{current.number} was discharged at "
                    f"{clock.local(current.discharged_at):%d-%m-%Y %H:%M}: order tests in OPD "
                    "or at the lab counter."
                )
        number = _allocate_order_number()
        accessions = (
            [preallocated_accession]
            if preallocated_accession
            else (_allocate_accessions(len(groups)))
        )
        order = LabOrder(
            number=number,
            patient=patient,
            source=source,
            priority=priority,
            ordered_at=ordered_at or clock.now(),
            ordered_by=actor,
            doctor=doctor,
            referring_doctor=referring_doctor,
            clinical_notes=clinical_notes.strip(),
            visit=visit,
            admission=admission,
        )
        ledger.create_sealed(order, actor=actor, reason=reason)
        samples = [
            Sample(
                accession=accession,
                order=order,
                container=container,
                specimen=specimen,
                section=section,
            )
            for accession, (container, specimen, section) in zip(accessions, groups, strict=True)
        ]
        ledger.create_sealed_many(samples, actor=actor, reason=reason)
        items = [
            OrderItem(
                order=order,
                panel=panel,
                sample=sample,
                price_code=panel.price_code,
            )
            for sample, members in zip(samples, groups.values(), strict=True)
            for panel in members
        ]
        ledger.create_sealed_many(items, actor=actor)
        results = [
            Result(item=item, test=member.test, position=member.position)
            for item in items
            for member in item.panel.items.all()
        ]
        ledger.create_sealed_many(results, actor=actor)
    return order


def order_from_opd(*, order, actor) -> str | None:
    """The `opd.orders` handler: a doctor's lab order line becomes a lab order. A test
    the catalogue does not know stays a requested order (see `opd.orders.pending`)."""
    if order_check(order.test) is not None or not Panel.objects.exists():
        return None
    visit = order.consultation.visit
    lab_order = order_create(
        actor=actor,
        patient=visit.patient,
        tests=[order.test],
        source=OrderSource.OPD,
        doctor=actor,
        visit=visit,
        clinical_notes=order.note,
    )
    return lab_order.number


def _short_reason(reason: str, *, why: str) -> str:
    """A reason the row keeps (200 characters; PostgreSQL refuses a longer one)."""
    reason = require_reason(reason, why=why)
    if len(reason) > REASON_LENGTH:
        raise ValidationFailed({"reason": [f"A reason is at most {REASON_LENGTH} characters."]})
    return reason


def _locked_item(item: OrderItem) -> tuple[OrderItem, Sample]:
    """Lock an item's sample, then the item: the sample first, as every service that
    changes a sample's items does (so the receipt desk and a cancellation never wait
    for each other crosswise). A rejection may move the item meanwhile: follow it."""
    sample_id = OrderItem.objects.values_list("sample_id", flat=True).get(pk=item.pk)
    while True:
        sample = locked(Sample.objects).get(pk=sample_id)
        current = locked(OrderItem.objects).select_related("panel").get(pk=item.pk)
        if current.sample_id == sample.pk:
            return current, sample
        sample_id = current.sample_id


def item_cancel(*, actor, item: OrderItem, reason: str) -> OrderItem:
    """Cancel one ordered test before its sample reaches the lab (billing reverses it)."""
    require_perm(
        actor, Perm.LAB_ORDER if item.order.source != OrderSource.WALK_IN else Perm.LAB_COUNTER
    )
    reason = _short_reason(reason, why="Say why the test is cancelled")
    with transaction.atomic():
        current, sample = _locked_item(item)
        if current.status == ItemStatus.CANCELLED:
            raise Conflict(f"{current.panel.name} is already cancelled.")
        if sample.status not in (SampleStatus.AWAITING, SampleStatus.COLLECTED):
            raise Conflict(
                f"Sample {sample.accession} is already in the lab: "
                "ask the laboratory to stop the test."
            )
        before = state_of(current)
        current.status = ItemStatus.CANCELLED
        current.cancelled_reason = reason
        ledger.save_sealed(
            current, actor=actor, before=before, reason=reason, action=LedgerAction.CANCEL
        )
        if not sample.items.exclude(status=ItemStatus.CANCELLED).exists():
            before = state_of(sample)
            sample.status = SampleStatus.CANCELLED
            sample.version += 1
            ledger.save_sealed(
                sample, actor=actor, before=before, reason=reason, action=LedgerAction.CANCEL
            )
    return current


# -- samples ---------------------------------------------------------------------------


def _locked_sample(sample: Sample | str) -> Sample:
    query = locked(Sample.objects)
    try:
        if isinstance(sample, Sample):
            return query.get(pk=sample.pk)
        return query.get(accession=normalise_accession(sample))
    except Sample.DoesNotExist:
        raise NotFound(f"No sample has accession number {sample}.") from None


def _save_sample(sample: Sample, *, actor, before: dict, reason: str, action=None) -> None:
    sample.version += 1
    ledger.save_sealed(
        sample, actor=actor, before=before, reason=reason, action=action or LedgerAction.UPDATE
    )


def sample_collect(*, actor, sample: Sample | str, collected_at: dt.datetime | None = None):
    """The phlebotomist or nurse drew the sample into its labelled container."""
    require_perm(actor, Perm.SAMPLE_COLLECT)
    now = clock.now()
    when = collected_at or now
    with transaction.atomic():
        current = _locked_sample(sample)
        if current.status != SampleStatus.AWAITING:
            raise Conflict(
                f"Sample {current.accession} is {current.get_status_display().lower()}, "
                "not awaiting collection."
            )
        if when > now + dt.timedelta(minutes=1):
            raise ValidationFailed({"collected_at": ["A collection time cannot be in the future."]})
        if when < current.order.ordered_at - dt.timedelta(minutes=1):
            raise ValidationFailed(
                {"collected_at": ["A sample cannot be collected before it was ordered."]}
            )
        before = state_of(current)
        current.status = SampleStatus.COLLECTED
        current.collected_at, current.collected_by = when, actor
        _save_sample(current, actor=actor, before=before, reason="sample collected")
    return current


def sample_receive(*, actor, accession: str) -> Sample:
    """The lab scanned the label at reception."""
    require_perm(actor, Perm.SAMPLE_RECEIVE)
    with transaction.atomic():
        current = _locked_sample(accession)
        if current.status == SampleStatus.RECEIVED:
            raise Conflict(
                f"Sample {current.accession} was already received at "
                f"{clock.local(current.received_at):%d-%m-%Y %H:%M}."
            )
        if current.status == SampleStatus.REJECTED:
            follow = getattr(current, "recollection", None)
            raise Conflict(
                f"Sample {current.accession} was rejected "
                f"({current.get_rejection_reason_display().lower()})"
                + (f": its recollection is {follow.accession}." if follow else ".")
            )
        if current.status == SampleStatus.CANCELLED:
            raise Conflict(f"Sample {current.accession} was cancelled.")
        if current.status == SampleStatus.AWAITING:
            raise Conflict(
                f"Sample {current.accession} has not been collected: record its collection first."
            )
        before = state_of(current)
        current.status = SampleStatus.RECEIVED
        current.received_at, current.received_by = clock.now(), actor
        _save_sample(current, actor=actor, before=before, reason="received in the laboratory")
    return current


def sample_reject(*, actor, sample: Sample | str, reason: str, note: str = "") -> Sample:
    """Refuse a sample (haemolysed, clotted, …): its tests move to a new sample with a new
    accession number, awaiting collection. Returns the recollection."""
    require_perm(actor, Perm.SAMPLE_RECEIVE)
    if reason not in RejectionReason.values:
        raise ValidationFailed(
            {"reason": [f"Choose a rejection reason ({', '.join(RejectionReason.labels)})."]}
        )
    note = " ".join(note.split())[:200]
    label = RejectionReason(reason).label.lower()
    with transaction.atomic():
        current = _locked_sample(sample)
        if current.status not in (SampleStatus.COLLECTED, SampleStatus.RECEIVED):
            raise Conflict(
                f"Sample {current.accession} is {current.get_status_display().lower()}: "
                "only a collected or received sample can be rejected."
            )
        results = list(
            locked(Result.objects)
            .filter(item__sample=current)
            .exclude(status__in=(ResultStatus.PENDING, ResultStatus.ENTERED, ResultStatus.AMENDED))
            .select_related("test")
        )
        if results:
            raise Conflict(
                f"Sample {current.accession} already has verified results "
                f"({', '.join(r.test.code for r in results)}): amend them instead."
            )
        items = list(locked(OrderItem.objects).filter(sample=current))
        entered = list(
            locked(Result.objects).filter(item__sample=current, status=ResultStatus.ENTERED)
        )
        (accession,) = _allocate_accessions(1)
        why = f"sample {current.accession} rejected: {label}" + (f" ({note})" if note else "")
        before = state_of(current)
        current.status = SampleStatus.REJECTED
        current.rejected_at, current.rejected_by = clock.now(), actor
        current.rejection_reason, current.rejection_note = reason, note
        _save_sample(current, actor=actor, before=before, reason=why)
        again = Sample(
            accession=accession,
            order_id=current.order_id,
            specimen=current.specimen,
            container=current.container,
            section=current.section,
            recollection_of=current,
        )
        ledger.create_sealed(again, actor=actor, reason=why)
        for item in items:
            before = state_of(item)
            item.sample = again
            if item.status == ItemStatus.IN_PROGRESS:  # its values are cleared below
                item.status = ItemStatus.ORDERED
            ledger.save_sealed(item, actor=actor, before=before, reason=why)
        befores = [state_of(r) for r in entered]
        for result in entered:  # measured on a bad sample: cleared, kept in the ledger
            _clear(result)
            result._why = why
        _save_results(entered, befores, actor=actor)
    return again


def _clear(result: Result) -> None:
    result.status = ResultStatus.PENDING
    result.value, result.numeric_value, result.flag = "", None, Flag.NORMAL
    result.range_low = result.range_high = None
    result.range_text = result.previous_value = ""
    result.previous_at, result.delta_flag = None, False
    result.source, result.analyzer, result.message = "", None, None
    result.entered_at = result.entered_by = None
    result.version += 1


# -- evaluating a value ----------------------------------------------------------------


@dataclass
class Evaluation:
    value: str
    numeric: Decimal | None
    flag: str
    low: Decimal | None = None
    high: Decimal | None = None
    range_text: str = ""


def age_in_days(patient: Patient, on: dt.date) -> int:
    """Age on the scale the catalogue's bands use: whole years of DAYS_PER_YEAR days
    plus the days since the last birthday, so a band's "18 years" starts on the 18th
    birthday itself (counting calendar days would move it up to 5 leap days earlier)."""
    born = patient.date_of_birth
    if on <= born:
        return 0
    years = on.year - born.year - (on < _birthday(born, on.year))
    return years * DAYS_PER_YEAR + min(
        (on - _birthday(born, born.year + years)).days, DAYS_PER_YEAR - 1
    )


def _birthday(born: dt.date, year: int) -> dt.date:
    try:
        return born.replace(year=year)
    except ValueError:  # born on 29 February: the 28th in other years
        return born.replace(year=year, day=28)


def reference_range(test: LabTest, patient: Patient, on: dt.date):
    """The narrowest band that fits the patient's sex and age; a sex-specific one first."""
    days = age_in_days(patient, on)
    fitting = [
        r
        for r in _ranges(test)
        if r.sex in ("", patient.sex) and r.age_min_days <= days < r.age_max_days
    ]
    fitting.sort(key=lambda r: (r.sex == "", r.age_max_days - r.age_min_days))
    if fitting:
        return fitting[0]
    return _either_sex(test, days)


def _ranges(test: LabTest) -> list[ReferenceRange]:
    """The test's ranges, kept on the test object: `test.ranges.all()` builds a new
    queryset on every call, even when prefetched, and this runs for every value."""
    found = test.__dict__.get("_range_list")
    if found is None:
        found = test.__dict__["_range_list"] = list(test.ranges.all())
    return found


def _either_sex(test: LabTest, days: int) -> ReferenceRange | None:
    """For a patient whose sex (transgender, not known) has no band of its own where the
    test has only male and female ones: flag abnormal only what is abnormal for both, but
    critical what is critical for either, so no critical value goes unflagged."""
    bands = [r for r in _ranges(test) if r.sex and r.age_min_days <= days < r.age_max_days]
    if not bands:
        return None

    def pick(name: str, choose):
        values = [getattr(r, name) for r in bands]
        return None if None in values else choose(values)

    critical_lows = [r.critical_low for r in bands if r.critical_low is not None]
    critical_highs = [r.critical_high for r in bands if r.critical_high is not None]
    normals = {r.normal_text for r in bands}
    return ReferenceRange(
        test=test,
        age_min_days=max(r.age_min_days for r in bands),
        age_max_days=min(r.age_max_days for r in bands),
        low=pick("low", min),
        high=pick("high", max),
        critical_low=max(critical_lows) if critical_lows else None,
        critical_high=min(critical_highs) if critical_highs else None,
        normal_text=normals.pop() if len(normals) == 1 else "",
    )


def _fmt(number: Decimal | None, places: int) -> str:
    if number is None:
        return ""
    return f"{_rounded(number, places):f}"


def _rounded(number: Decimal, places: int) -> Decimal:
    """Rounded as people round (2.25 → 2.3, not to even), whatever the thread's decimal
    context; a zero is never shown as -0."""
    return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP) + 0


def range_text(test: LabTest, rng) -> str:
    if rng is None:
        return ""
    if rng.normal_text:
        return rng.normal_text
    places = test.decimals
    if rng.low is not None and rng.high is not None:
        return f"{_fmt(rng.low, places)} - {_fmt(rng.high, places)}"
    if rng.high is not None:
        return f"< {_fmt(rng.high, places)}"
    if rng.low is not None:
        return f"> {_fmt(rng.low, places)}"
    return ""


def _numeric_flag(number: Decimal, comparator: str, rng: ReferenceRange) -> str:
    """A value exactly at a limit is within it; but "<40" is below 40 and ">450" above
    450, so a glucose reported "<40" is critically low, as the analyzer meant."""

    def below(limit: Decimal | None) -> bool:
        return limit is not None and (number < limit or (comparator == "<" and number <= limit))

    def above(limit: Decimal | None) -> bool:
        return limit is not None and (number > limit or (comparator == ">" and number >= limit))

    if below(rng.critical_low):
        return Flag.CRITICAL_LOW
    if above(rng.critical_high):
        return Flag.CRITICAL_HIGH
    if below(rng.low):
        return Flag.LOW
    if above(rng.high):
        return Flag.HIGH
    return Flag.NORMAL


def evaluate(test: LabTest, raw: str, patient: Patient, on: dt.date) -> Evaluation:
    """Check one value against the test's type, and flag it against its range.
    Raises ValueError with a message naming the value and what was expected."""
    text = " ".join((raw or "").split())
    if not text:
        raise ValueError(f"{test.name}: no value")
    rng = reference_range(test, patient, on)
    shown_range = range_text(test, rng)
    if test.result_type == ResultType.NUMERIC:
        comparator = text[0] if text[0] in "<>" else ""
        try:
            number = Decimal(text[len(comparator) :].strip())
        except InvalidOperation:
            raise ValueError(
                f"{test.name}: {text!r} is not a number"
                + (f" (in {test.unit})" if test.unit else "")
            ) from None
        if not number.is_finite():
            raise ValueError(f"{test.name}: {text!r} is not a number")
        if number < 0:
            raise ValueError(f"{test.name}: {text} cannot be negative")
        if number > MAX_VALUE:
            raise ValueError(f"{test.name}: {text} is out of any measurable range")
        number = _rounded(number, test.decimals)
        flag = Flag.NORMAL
        if rng is not None:
            flag = _numeric_flag(number, comparator, rng)
        return Evaluation(
            value=f"{comparator}{number:f}",
            numeric=number,
            flag=flag,
            low=rng.low if rng else None,
            high=rng.high if rng else None,
            range_text=shown_range,
        )
    if len(text) > 200:
        raise ValueError(f"{test.name}: a result is at most 200 characters")
    if test.result_type == ResultType.CHOICE:
        options = [c for c in test.choices.split("|") if c]
        match = next((c for c in options if c.casefold() == text.casefold()), None)
        if match is None:
            raise ValueError(f"{test.name}: {text!r} is not one of {', '.join(options)}")
        text = match
    normal = rng.normal_text if rng else ""
    flag = Flag.ABNORMAL if normal and text.casefold() != normal.casefold() else Flag.NORMAL
    return Evaluation(value=text, numeric=None, flag=flag, range_text=shown_range)


def _previous_results(patient_id: int, test_ids: set[int], exclude_order_id: int) -> dict:
    """The patient's last authorised value of each test, from earlier orders."""
    return _previous_results_of([(patient_id, exclude_order_id, test_ids)])[0]


def _previous_results_of(wanted: list[tuple[int, int, set[int]]]) -> list[dict[int, tuple]]:
    """For each (patient, order, tests): the patient's last authorised value of each of
    the tests from their other orders, by test. One statement for them all."""
    patients = sorted({patient for patient, _, _ in wanted})
    tests = sorted({t for _, _, ids in wanted for t in ids})
    if not tests:
        return [{} for _ in wanted]
    # From the patients to their orders, items and results: the only way that reads
    # just their rows. SQLite has no statistics to tell it so (Django never runs
    # ANALYZE), and once took the results by a status index: every authorised result in
    # the hospital, in every batch. CROSS JOIN fixes SQLite's loop order (PostgreSQL
    # plans it as a plain join); results are then found by (item, status).
    sql = (
        "SELECT o.patient_id, i.order_id, r.test_id, r.value, r.numeric_value, "  # noqa: S608
        f"r.authorised_at FROM {raw.table(LabOrder, 'o')} "
        f"CROSS JOIN {raw.table(OrderItem, 'i')} CROSS JOIN {raw.table(Result, 'r')} "
        f"WHERE i.order_id = o.id AND r.item_id = i.id "
        f"AND o.patient_id IN ({raw.marks(len(patients))}) "
        f"AND r.test_id IN ({raw.marks(len(tests))}) AND r.status = %s "
        "ORDER BY r.test_id, r.authorised_at DESC"
    )
    names = ("patient_id", "order_id", "test_id", "value", "numeric_value", "authorised_at")
    columns = [(LabOrder, "patient_id"), (OrderItem, "order_id")]
    columns += [(Result, name) for name in names[2:]]
    history: dict[int, list] = {}
    for row in raw.select(sql, [*patients, *tests, ResultStatus.AUTHORISED], columns, names):
        history.setdefault(row.patient_id, []).append(row)
    found = []
    for patient, order, ids in wanted:
        latest: dict[int, tuple] = {}
        for row in history.get(patient, ()):
            if row.order_id != order and row.test_id in ids:
                latest.setdefault(row.test_id, (row.value, row.numeric_value, row.authorised_at))
        found.append(latest)
    return found


def _apply(result: Result, ev: Evaluation, previous: tuple | None) -> None:
    result.value, result.numeric_value, result.flag = ev.value, ev.numeric, ev.flag
    result.range_low, result.range_high, result.range_text = ev.low, ev.high, ev.range_text
    result.unit = result.test.unit
    result.method = result.test.method
    result.previous_value, result.previous_at, result.delta_flag = "", None, False
    if previous is not None:
        value, numeric, at = previous
        result.previous_value, result.previous_at = value, at
        limit = result.test.delta_percent
        if limit is not None and numeric and ev.numeric is not None:
            change = abs(ev.numeric - numeric) / abs(numeric) * 100
            result.delta_flag = change > limit
    result.status = ResultStatus.ENTERED
    result.version += 1


def _live_results(sample: Sample) -> list[Result]:
    """The sample's current results, locked, each with its test and the test's ranges."""
    return list(
        locked(Result.objects)
        .filter(item__sample=sample)
        .exclude(status=ResultStatus.AMENDED)
        .exclude(item__status=ItemStatus.CANCELLED)
        .order_by("item_id", "position")
        .select_related("test", "item")
        .prefetch_related("test__ranges")
    )


def _refuse_unless_received(sample: Sample) -> None:
    if sample.status == SampleStatus.REJECTED:
        follow = Sample.objects.filter(recollection_of=sample).first()
        raise Conflict(
            f"Sample {sample.accession} was rejected "
            f"({sample.get_rejection_reason_display().lower()}): results go on "
            + (f"its recollection {follow.accession}." if follow else "a recollected sample.")
        )
    if sample.status != SampleStatus.RECEIVED:
        raise Conflict(
            f"Sample {sample.accession} is {sample.get_status_display().lower()}: "
            "receive it in the lab before entering results."
        )


def results_enter(*, actor, sample: Sample | str, values: dict[int, str]) -> list[Result]:
    """Manual entry: `values` maps a result's id to what the technician typed; blank
    values are skipped. Every value is checked before any is stored."""
    require_perm(actor, Perm.RESULT_ENTER)
    with transaction.atomic():
        current = _locked_sample(sample)
        _refuse_unless_received(current)
        live = {r.pk: r for r in _live_results(current)}
        wanted = {int(k): v for k, v in values.items() if v is not None and str(v).strip()}
        if not wanted:
            raise ValidationFailed("Enter at least one result.")
        errors: dict[str, list[str]] = {}
        evaluations: dict[int, Evaluation] = {}
        patient = current.order.patient
        on = clock.local(current.collected_at or clock.now()).date()
        for pk, raw in wanted.items():
            result = live.get(pk)
            if result is None:
                errors.setdefault("__all__", []).append(
                    f"Result {pk} is not a test on sample {current.accession}."
                )
                continue
            if result.status not in (ResultStatus.PENDING, ResultStatus.ENTERED):
                errors[f"r{pk}"] = [
                    f"{result.test.name} is already {result.get_status_display().lower()}: "
                    "amend it instead."
                ]
                continue
            try:
                evaluations[pk] = evaluate(result.test, raw, patient, on)
            except ValueError as exc:
                errors[f"r{pk}"] = [str(exc) + "."]
        if errors:
            raise ValidationFailed(errors)
        changed = [live[pk] for pk in evaluations]
        previous = _previous_results(patient.pk, {r.test_id for r in changed}, current.order_id)
        befores = [state_of(r) for r in changed]
        now = clock.now()
        for result in changed:
            again = result.status == ResultStatus.ENTERED
            _apply(result, evaluations[result.pk], previous.get(result.test_id))
            result.source, result.analyzer, result.message = ResultSource.MANUAL, None, None
            result.entered_at, result.entered_by = now, actor
            result._why = "result corrected before verification" if again else "result entered"
        starting = _unstarted({r.item_id for r in changed})
        _save_results(changed, befores, actor=actor)
        _start(starting, actor=actor)
    return changed


RESULT_UPDATE_FIELDS = [
    f.attname
    for f in Result._meta.concrete_fields
    if f.attname not in ("id", "item_id", "test_id", "position")
]


def _save_results(results: list[Result], befores: list[dict], *, actor) -> None:
    """Store changed results with one UPDATE statement (executemany) and one ledger
    append for the lot; only the columns that changed are written."""
    ledger.record_many(_write_results(results, befores, actor=actor))


def _write_results(
    results: list[Result], befores: list[dict], *, actor, contexts: list | None = None
) -> list[ledger.Change]:
    """The UPDATE of `_save_results`; returns the ledger's changes, to be recorded."""
    if not results:
        return []
    ledgered = for_model(Result)
    afters = [ledgered.state(r) for r in results]
    for result, after in zip(results, afters, strict=True):
        result.seal = state_hash(after)
    changed = [
        name
        for name in RESULT_UPDATE_FIELDS
        if name == "seal" or any(b[name] != a[name] for b, a in zip(befores, afters, strict=True))
    ]
    update_rows(Result, results, changed)
    return [
        ledger.sealed_change(
            r,
            action=LedgerAction.UPDATE,
            before=before,
            after=after,
            reason=getattr(r, "_why", "") or "result updated",
            actor=actor,
            request_context=contexts[n] if contexts else None,
            model=Result,
        )
        for n, (r, before, after) in enumerate(zip(results, befores, afters, strict=True))
    ]


ITEM_COLUMNS = tuple(f.attname for f in OrderItem._meta.concrete_fields)


def _unstarted(item_ids: set[int]) -> list[SimpleNamespace]:
    """The items still ORDERED, locked (taken before the caller's first ledger entry),
    as rows: `_write_started` reads and writes them by attribute name."""
    if not item_ids:
        return []
    sql = (
        f"SELECT {raw.columns_sql('i', OrderItem, ITEM_COLUMNS)} "  # noqa: S608
        f"FROM {raw.table(OrderItem, 'i')} "
        f"WHERE i.id IN ({raw.marks(len(item_ids))}) AND i.status = %s "
        "ORDER BY i.id" + raw.for_update("i")
    )
    return raw.select(
        sql,
        [*sorted(item_ids), ItemStatus.ORDERED],
        [(OrderItem, name) for name in ITEM_COLUMNS],
        ITEM_COLUMNS,
    )


def _start(items: list[SimpleNamespace], *, actor) -> None:
    ledger.record_many(_write_started(items, actor=actor))


def _write_started(
    items: list[SimpleNamespace], *, actor, contexts: list | None = None
) -> list[ledger.Change]:
    """Items IN_PROGRESS (results are arriving) in one UPDATE; returns their changes."""
    if not items:
        return []
    ledgered = for_model(OrderItem)
    befores = [ledgered.state(item) for item in items]
    afters = []
    for item in items:
        item.status = ItemStatus.IN_PROGRESS
        afters.append(ledgered.state(item))
        item.seal = state_hash(afters[-1])
    update_rows(OrderItem, items, ["status", "seal"])
    return [
        ledger.sealed_change(
            item,
            action=LedgerAction.UPDATE,
            before=before,
            after=after,
            reason="results arriving",
            actor=actor,
            request_context=contexts[n] if contexts else None,
            model=OrderItem,
        )
        for n, (item, before, after) in enumerate(zip(items, befores, afters, strict=True))
    ]


# -- validation ------------------------------------------------------------------------


def results_verify(*, actor, sample: Sample | str, result_ids: list[int] | None = None):
    """The technician checks entered values (flags, deltas, QC) and verifies them; a
    critical value alerts the ordering doctor at once."""
    require_perm(actor, Perm.RESULT_VERIFY)
    with transaction.atomic():
        current = _locked_sample(sample)
        _refuse_unless_received(current)
        chosen = [
            r
            for r in _live_results(current)
            if r.status == ResultStatus.ENTERED and (result_ids is None or r.pk in result_ids)
        ]
        if not chosen:
            raise Conflict(f"Sample {current.accession} has no entered results to verify.")
        befores = [state_of(r) for r in chosen]
        now = clock.now()
        for result in chosen:
            result.status = ResultStatus.VERIFIED
            result.verified_at, result.verified_by = now, actor
            result.version += 1
            result._why = "verified by technician"
        _save_results(chosen, befores, actor=actor)
        _raise_alerts([r for r in chosen if r.flag in CRITICAL_FLAGS], current, actor=actor)
    return chosen


def _raise_alerts(results: list[Result], sample: Sample, *, actor) -> None:
    if not results:
        return
    order = sample.order
    raised = set(
        CriticalAlert.objects.filter(result__in=results).values_list("result_id", flat=True)
    )
    for result in results:
        if result.pk in raised:
            continue
        ledger.create_sealed(
            CriticalAlert(
                result=result,
                patient_id=order.patient_id,
                doctor_id=order.doctor_id,
                raised_at=clock.now(),
            ),
            actor=actor,
            reason=f"critical {result.test.code} {result.value} {result.unit}".strip(),
        )


def alert_acknowledge(*, actor, alert: CriticalAlert, note: str) -> CriticalAlert:
    """The doctor (or the one covering) has heard the critical value and says what next."""
    require_perm(actor, Perm.LAB_ALERT_ACK)
    note = " ".join((note or "").split())
    if len(note) < 3:
        raise ValidationFailed({"note": ["Say what was done (e.g. 'repeat K+, started insulin')."]})
    with transaction.atomic():
        current = locked(CriticalAlert.objects).get(pk=alert.pk)
        if current.acknowledged_at is not None:
            raise Conflict(
                f"Already acknowledged at {clock.local(current.acknowledged_at):%d-%m-%Y %H:%M}."
            )
        before = state_of(current)
        current.acknowledged_at, current.acknowledged_by = clock.now(), actor
        current.action_note = note[:300]
        ledger.save_sealed(current, actor=actor, before=before, reason="critical value heard")
    return current


def results_authorise(*, actor, sample: Sample | str) -> Report:
    """The pathologist authorises every verified result on the sample; the order's
    report is issued again with them (a new version, its hash in the ledger)."""
    require_perm(actor, Perm.RESULT_AUTHORISE)
    with transaction.atomic():
        current = _locked_sample(sample)
        _refuse_unless_received(current)
        live = _live_results(current)
        chosen = [r for r in live if r.status == ResultStatus.VERIFIED]
        if not chosen:
            raise Conflict(f"Sample {current.accession} has no verified results to authorise.")
        own = [r.test.name for r in chosen if r.verified_by_id == actor.pk]
        if own:
            raise Conflict(
                f"You verified {', '.join(own)}: another pathologist must authorise "
                "(two different people)."
            )
        befores = [state_of(r) for r in chosen]
        now = clock.now()
        for result in chosen:
            result.status = ResultStatus.AUTHORISED
            result.authorised_at, result.authorised_by = now, actor
            result.version += 1
            result._why = "authorised by pathologist"
        # An item is authorised when all its results are; lock those before the ledger.
        done_items = {r.item_id for r in live} - {
            r.item_id for r in live if r.status != ResultStatus.AUTHORISED
        }
        finished = list(
            locked(OrderItem.objects)
            .filter(pk__in=done_items)
            .exclude(status=ItemStatus.AUTHORISED)
            .order_by("pk")
        )
        _save_results(chosen, befores, actor=actor)
        for item in finished:
            before = state_of(item)
            item.status, item.authorised_at = ItemStatus.AUTHORISED, now
            ledger.save_sealed(item, actor=actor, before=before, reason="authorised")
        amended = [r for r in chosen if r.amends_id]
        reason = "; ".join(f"{r.test.code} amended: {r.amendment_reason}" for r in amended)
        return _issue_report(current.order, actor=actor, reason=reason)


def result_amend(*, actor, result: Result, value: str, reason: str) -> Result:
    """Correct an authorised result: the old row is kept (AMENDED) and a new one, verified
    by the amending pathologist, waits for another pathologist's authorisation."""
    require_perm(actor, Perm.RESULT_AUTHORISE)
    reason = _short_reason(reason, why="Say why the result is amended")
    with transaction.atomic():
        # The sample first, as results_authorise and the analyzer lock it: an
        # authorisation of the same sample then sees this amendment whole, or not at all.
        sample_id = Result.objects.values_list("item__sample_id", flat=True).get(pk=result.pk)
        sample = locked(Sample.objects).get(pk=sample_id)
        old = (
            locked(Result.objects).select_related("test", "item__order__patient").get(pk=result.pk)
        )
        if old.status != ResultStatus.AUTHORISED:
            raise Conflict(
                f"{old.test.name} is {old.get_status_display().lower()}: only an authorised "
                "result is amended."
            )
        order = old.item.order
        on = clock.local(sample.collected_at or clock.now()).date()
        try:
            ev = evaluate(old.test, value, order.patient, on)
        except ValueError as exc:
            raise ValidationFailed({"value": [str(exc) + "."]}) from None
        if ev.value == old.value:
            raise ValidationFailed({"value": ["The amended value is the same as the old one."]})
        item = locked(OrderItem.objects).get(pk=old.item_id)
        before = state_of(old)
        old.status = ResultStatus.AMENDED
        old.version += 1
        ledger.save_sealed(old, actor=actor, before=before, reason=reason)
        previous = _previous_results(order.patient_id, {old.test_id}, order.pk)
        now = clock.now()
        new = Result(
            item=item,
            test=old.test,
            position=old.position,
            source=ResultSource.MANUAL,
            entered_at=now,
            entered_by=actor,
            verified_at=now,
            verified_by=actor,
            amends=old,
            amendment_reason=reason,
        )
        _apply(new, ev, previous.get(old.test_id))
        new.status, new.version = ResultStatus.VERIFIED, 1
        ledger.create_sealed(new, actor=actor, reason=reason)
        if item.status == ItemStatus.AUTHORISED:
            before = state_of(item)
            item.status, item.authorised_at = ItemStatus.IN_PROGRESS, None
            ledger.save_sealed(item, actor=actor, before=before, reason=reason)
        if new.flag in CRITICAL_FLAGS:
            _raise_alerts([new], sample, actor=actor)
    return new


# -- reports ---------------------------------------------------------------------------


def report_content(order: LabOrder, version: int) -> dict:
    """What a report says, as plain data: hashed, stored, printed and verified."""
    patient = order.patient
    items = (
        order.items.exclude(status=ItemStatus.CANCELLED)
        .select_related("panel", "sample")
        .prefetch_related("results__test", "results__authorised_by")
        .order_by("id")
    )
    sections = []
    for item in items:
        rows = [
            {
                "test": r.test.code,
                "name": r.test.name,
                "value": r.value,
                "unit": r.unit,
                "range": r.range_text,
                "flag": r.flag,
                "method": r.method,
                "amended": bool(r.amends_id),
                "amendment": r.amendment_reason,
                "authorised_by": _name(r.authorised_by),
                "authorised_at": clock.local(r.authorised_at).strftime("%d-%m-%Y %H:%M"),
            }
            for r in sorted(item.results.all(), key=lambda r: r.position)
            if r.status == ResultStatus.AUTHORISED
        ]
        if not rows:
            continue
        sample = item.sample
        sections.append(
            {
                "panel": item.panel.code,
                "name": item.panel.name,
                "accession": sample.accession,
                "specimen": sample.get_specimen_display(),
                "collected_at": _local_text(sample.collected_at),
                "received_at": _local_text(sample.received_at),
                "results": rows,
            }
        )
    doctor = order.doctor
    return {
        "report": f"{order.number}-{version}",
        "version": version,
        "order": order.number,
        "patient": {
            "uhid": patient.uhid,
            "name": patient.name,
            "sex": patient.sex,
            "date_of_birth": patient.date_of_birth.isoformat(),
        },
        "priority": order.priority,
        "source": order.source,
        "doctor": _name(doctor) if doctor else order.referring_doctor,
        "ordered_at": _local_text(order.ordered_at),
        "sections": sections,
    }


def _name(user) -> str:
    """A person as the report prints them: the name staff know, not the login."""
    return user.full_name or user.username


def _local_text(value: dt.datetime | None) -> str:
    return clock.local(value).strftime("%d-%m-%Y %H:%M") if value else ""


def content_hash(content_text: str) -> str:
    return hashlib.sha256(content_text.encode("utf-8")).hexdigest()


def _issue_report(order: LabOrder, *, actor, reason: str = "") -> Report:
    last = order.reports.order_by("-version").first()
    version = (last.version if last else 0) + 1
    content = report_content(order, version)
    text = canonical_bytes(content).decode("utf-8")
    pending = order.items.exclude(status__in=(ItemStatus.AUTHORISED, ItemStatus.CANCELLED)).exists()
    report = Report(
        number=content["report"],
        order=order,
        version=version,
        issued_at=clock.now(),
        issued_by=actor,
        is_final=not pending,
        content=text,
        content_hash=content_hash(text),
        supersedes=last,
        reason=reason[:200],
    )
    ledger.create_sealed(report, actor=actor, reason=reason[:200])
    return report


# -- analyzer messages -----------------------------------------------------------------


class AckCode:
    ACCEPT = "AA"
    ERROR = "AE"
    REJECT = "AR"


@dataclass
class Observation:
    """One OBX as the HL7 layer read it."""

    code: str
    value: str
    unit: str = ""
    status: str = "F"
    set_id: str = ""


@dataclass
class AnalyzerMessage:
    sending_application: str
    sending_facility: str
    control_id: str
    accession: str
    observations: list[Observation]
    raw: str
    spooled: bool = False
    received_at: dt.datetime | None = None  # when the listener got it (a spooled message)
    patient_id: str = ""  # PID-3 as the analyzer sent it (normally the UHID)
    # The ledger context of the connection it came on (the listener's batches hold
    # messages from several); None: the context bound when it is stored.
    context: context.RequestContext | None = None


@dataclass
class Outcome:
    """What to answer: the ack code, and for AE/AR the HL7 error code (table 0357) and
    text; `duplicate` when this control ID was seen before (nothing re-applied)."""

    ack: str
    text: str = ""
    error_code: str = ""
    duplicate: bool = False
    status: str = ""
    results: int = 0
    extra: dict = field(default_factory=dict)


def _unit_key(unit: str) -> str:
    """Units as analyzers and catalogues spell them alike: UCUM's 10*3/uL is 10^3/µL."""
    return (
        unit.strip()
        .casefold()
        .replace("µ", "u")
        .replace("μ", "u")
        .replace("^", "*")
        .replace(" ", "")
    )


def analyzer_message_store(message: AnalyzerMessage) -> Outcome:
    """Store one analyzer's ORU: every message is kept (as an InboundMessage) whatever
    its fate; results are stored only when all of them can be.

    Raises only database errors (the listener then spools the message)."""
    try:
        with transaction.atomic():
            return _store_batch([message])[0]
    except IntegrityError:
        # The same control ID arrived twice at once on two connections: answer as the
        # first was answered.
        seen = _seen(message)
        if seen is None:
            raise
        return seen


def analyzer_messages_store(messages: list[AnalyzerMessage]) -> list[Outcome]:
    """Store the messages waiting on the listener's connections in one transaction, with
    a few statements for the lot: one Outcome each, in order, exactly as storing them
    one at a time in that order would have answered and stored them.

    Raises only database errors (the listener then spools the batch). A control ID
    stored meanwhile by another process (PostgreSQL, two listeners) rolls the batch
    back, and each message is then stored on its own."""
    try:
        with transaction.atomic():
            return _store_batch(messages)
    except IntegrityError:
        return [analyzer_message_store(m) for m in messages]


def _message_key(message: AnalyzerMessage) -> tuple[str, str, str]:
    return (message.sending_application, message.sending_facility, message.control_id)


def _seen(message: AnalyzerMessage) -> Outcome | None:
    """The answer given to this message before, if it came before."""
    return _seen_many([message]).get(_message_key(message))


def _seen_many(messages: list[AnalyzerMessage]) -> dict[tuple[str, str, str], Outcome]:
    """The answers given before to those of these messages that came before (one plain
    statement: it runs for every batch)."""
    wanted = {_message_key(m) for m in messages}
    # Each part of the key in a list of its own: the unique index on (application,
    # facility, control id) answers the three lists; a condition on the control id alone
    # read every message the laboratory ever received, in every batch.
    apps, facilities, ids = (sorted(set(part)) for part in zip(*wanted, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sending_application, sending_facility, control_id, ack_code, detail, "  # noqa: S608
            f"status, error_code FROM {raw.table(InboundMessage, 'm')} "
            f"WHERE sending_application IN ({raw.marks(len(apps))}) "
            f"AND sending_facility IN ({raw.marks(len(facilities))}) "
            f"AND control_id IN ({raw.marks(len(ids))})",
            [*apps, *facilities, *ids],
        )
        rows = cursor.fetchall()
    return {
        (app, facility, control_id): Outcome(
            ack=ack, text=text, error_code=code, duplicate=True, status=status
        )
        for app, facility, control_id, ack, text, status, code in rows
        if (app, facility, control_id) in wanted
    }


def _accession_of(message: AnalyzerMessage) -> str | None:
    try:
        return normalise_accession(message.accession)
    except ValidationFailed:
        return None


def _store_batch(messages: list[AnalyzerMessage]) -> list[Outcome]:
    """Store in runs of messages with distinct control IDs and distinct samples: a
    message for a sample (or with a control ID) already in the run starts the next run,
    which then reads what the one before it wrote."""
    outcomes: list[Outcome] = []
    run: list[AnalyzerMessage] = []
    keys: set = set()
    for message in messages:
        mine = {_message_key(message), ("sample", _accession_of(message) or message.accession)}
        if keys & mine:
            outcomes += _store_run(run)
            run, keys = [], set()
        run.append(message)
        keys |= mine
    if run:
        outcomes += _store_run(run)
    return outcomes


@dataclass
class _Decision:
    """What storing one message does: its InboundMessage (unsaved), and the results it
    enters (each with its evaluation) on its sample."""

    message: AnalyzerMessage
    inbound: InboundMessage
    outcome: Outcome
    sample: SimpleNamespace | None = None  # a row of `_samples_of`
    chosen: list[tuple[SimpleNamespace, Evaluation]] = field(default_factory=list)
    changes: list[ledger.Change] = field(default_factory=list)


def _store_run(messages: list[AnalyzerMessage]) -> list[Outcome]:
    seen = _seen_many(messages)
    fresh = [m for m in messages if _message_key(m) not in seen]
    decisions = _decide_all(fresh) if fresh else {}
    return [seen.get(_message_key(m)) or decisions[id(m)].outcome for m in messages]


def _decide_all(messages: list[AnalyzerMessage]) -> dict[int, _Decision]:
    """Read what the messages need in a few statements, decide each, then write them
    all: the InboundMessages in one INSERT, the results, items and seals in one UPDATE
    each, and one ledger append in the order the messages came."""
    accessions = {id(m): _accession_of(m) for m in messages}
    samples = _samples_of({a for a in accessions.values() if a})
    known = cache.current()
    live = _live_results_of([s.id for s in samples.values()], known.tests)
    decisions: dict[int, _Decision] = {}
    for message in messages:
        sample = samples.get(accessions[id(message)] or "")
        decisions[id(message)], known = _decide(
            message, sample, live.get(sample.id, []) if sample else [], known
        )
    ordered = [decisions[id(m)] for m in messages]
    created = _insert_sealed([d.inbound for d in ordered], [d.message.context for d in ordered])
    for decision, change in zip(ordered, created, strict=True):
        decision.changes.append(change)
    entering = [d for d in ordered if d.chosen]
    if entering:
        _enter_all(entering)
    ledger.record_many(change for d in ordered for change in d.changes)
    return decisions


def _enter_all(entering: list[_Decision]) -> None:
    """The chosen results of every message entered, and their items started: one
    UPDATE for all the results and one for the items, their changes kept in order."""
    starting = _unstarted({r.item_id for d in entering for r, _ in d.chosen})
    previous = _previous_results_of(
        [
            (d.sample.patient_id, d.sample.order_id, {r.test_id for r, _ in d.chosen})
            for d in entering
        ]
    )
    results, befores, items, contexts = [], [], [], []
    ledgered = for_model(Result)
    now = clock.now()
    for decision, found in zip(entering, previous, strict=True):
        inbound = decision.inbound
        for result, ev in decision.chosen:
            again = result.status == ResultStatus.ENTERED
            befores.append(ledgered.state(result))
            _apply(result, ev, found.get(result.test_id))
            result.source = ResultSource.ANALYZER
            result.analyzer_id, result.message_id = inbound.analyzer_id, inbound.pk
            result.entered_at, result.entered_by_id = now, None
            result._why = (
                f"{'rerun' if again else 'result'} from {inbound.analyzer.code} "
                f"message {decision.message.control_id}"
            )
            results.append(result)
            contexts.append(decision.message.context)
        items += [i for i in starting if i.sample_id == inbound.sample_id]
    result_changes = iter(_write_results(results, befores, actor=None, contexts=contexts))
    by_sample = {d.inbound.sample_id: d for d in entering}
    item_changes = _write_started(
        items, actor=None, contexts=[by_sample[i.sample_id].message.context for i in items]
    )
    for decision in entering:
        decision.changes += [next(result_changes) for _ in decision.chosen]
    for item, change in zip(items, item_changes, strict=True):
        by_sample[item.sample_id].changes.append(change)


def _decide(
    message: AnalyzerMessage, sample: SimpleNamespace | None, live_results: list, known
) -> tuple[_Decision, cache.Catalogue]:
    """One message judged against what was read: the InboundMessage to keep and what it
    enters. Nothing is written here but a sample received on its first result."""
    analyzer = known.analyzers.get(message.sending_application)
    inbound = InboundMessage(
        sending_application=message.sending_application,
        sending_facility=message.sending_facility,
        control_id=message.control_id,
        received_at=message.received_at or clock.now(),
        accession=message.accession[:40],
        patient_uhid=message.patient_id[:40],
        raw=message.raw,
        raw_sha256=hashlib.sha256(message.raw.encode("utf-8")).hexdigest(),
        analyzer=analyzer,
        spooled=message.spooled,
        status=MessageStatus.APPLIED,
        ack_code=AckCode.ACCEPT,
    )

    def keep(status: str, ack: str, text: str, code: str = "", chosen=()) -> _Decision:
        text = text[:300]  # as stored, so a resend is answered word for word
        inbound.status, inbound.ack_code, inbound.detail = status, ack, text
        inbound.error_code, inbound.sample_id = code, sample.id if sample else None
        outcome = Outcome(ack=ack, text=text, error_code=code, status=status)
        outcome.results = len(chosen)
        return _Decision(message, inbound, outcome, sample, list(chosen))

    if analyzer is None:
        return keep(
            MessageStatus.ERROR,
            AckCode.ERROR,
            f"Unknown sending application {message.sending_application!r} (MSH-3): "
            "add the analyzer in the laboratory set-up.",
            "204",
        ), known
    if sample is None:
        return keep(
            MessageStatus.UNMATCHED,
            AckCode.ACCEPT,
            f"No sample with accession {message.accession!r}: kept to be matched.",
        ), known
    if sample.status == SampleStatus.REJECTED:
        return keep(
            MessageStatus.ERROR,
            AckCode.ERROR,
            f"Sample {sample.accession} was rejected "
            f"({RejectionReason(sample.rejection_reason).label.lower()}): "
            "no results accepted on it.",
            "207",
        ), known
    if sample.status == SampleStatus.CANCELLED:
        return keep(
            MessageStatus.ERROR, AckCode.ERROR, f"Sample {sample.accession} was cancelled.", "207"
        ), known
    mapping = known.mappings.get(analyzer.pk, {})
    if any(obs.code not in mapping for obs in message.observations):
        known = cache.current(fresh=True)  # a code mapped since the cache was read?
        mapping = known.mappings.get(analyzer.pk, {})
        live_results = _with_tests(live_results, known.tests)
    live = {r.test_id: r for r in live_results}
    patient = sample.patient
    on = clock.local(sample.collected_at or clock.now()).date()
    problems: list[tuple[str, str]] = []
    chosen: list[tuple[Result, Evaluation]] = []
    for obs in message.observations:
        test_id = mapping.get(obs.code)
        if test_id is None:
            problems.append(("103", f"Unknown test code {obs.code!r} for {analyzer.code}"))
            continue
        result = live.get(test_id)
        if result is None:
            problems.append(("103", f"{obs.code} was not ordered on sample {sample.accession}"))
            continue
        try:
            ev = evaluate(result.test, obs.value, patient, on)
        except ValueError as exc:
            problems.append(("102", f"OBX {obs.set_id or obs.code}: {exc}"))
            continue
        if obs.unit and _unit_key(obs.unit) != _unit_key(result.test.unit):
            problems.append(
                (
                    "103",
                    f"{obs.code} came in {obs.unit!r} but {result.test.name} is reported in "
                    f"{result.test.unit or 'no unit'}: check the analyzer's unit setting",
                )
            )
            continue
        if result.status in (ResultStatus.VERIFIED, ResultStatus.AUTHORISED):
            if result.value != ev.value:
                problems.append(
                    ("207", f"{result.test.name} is already {result.status}: amend it in the lab")
                )
            continue
        if result.status == ResultStatus.ENTERED and result.value == ev.value:
            continue  # a rerun with the same value changes nothing
        chosen.append((result, ev))
    if problems:
        return keep(
            MessageStatus.ERROR,
            AckCode.ERROR,
            "; ".join(p for _, p in problems) + ".",
            problems[0][0],
        ), known
    receipt = []
    if sample.status in (SampleStatus.AWAITING, SampleStatus.COLLECTED):
        receipt.append(_receive_on_result(sample, analyzer, message))
    decision = keep(
        MessageStatus.APPLIED,
        AckCode.ACCEPT,
        f"{len(chosen)} result(s) stored.",
        chosen=chosen,
    )
    decision.changes += receipt
    return decision, known


def _receive_on_result(row: SimpleNamespace, analyzer, message) -> ledger.Change:
    """A sample whose first news in the lab is its analyzer's result: received now.
    Returns the change, recorded with the message's other entries (before them)."""
    sample = locked(Sample.objects).get(pk=row.id)
    before = state_of(sample)
    now = clock.now()
    if sample.collected_at is None:
        sample.collected_at = now
    sample.status, sample.received_at = SampleStatus.RECEIVED, now
    sample.version += 1
    row.status = sample.status
    return ledger.saved_change(
        sample,
        actor=None,
        before=before,
        reason=f"received on {analyzer.code}'s result",
        request_context=message.context,
    )


SAMPLE_COLUMNS = ("id", "accession", "status", "rejection_reason", "collected_at", "order_id")


def _samples_of(accessions: set[str]) -> dict[str, SimpleNamespace]:
    """The samples, locked, by accession; each with its patient's id, sex and date of
    birth (what the reference ranges need)."""
    if not accessions:
        return {}
    sql = (
        f"SELECT {raw.columns_sql('s', Sample, SAMPLE_COLUMNS)}, o.patient_id, "  # noqa: S608
        f"{raw.columns_sql('p', Patient, ('sex', 'date_of_birth'))} "
        f"FROM {raw.table(Sample, 's')} "
        f"JOIN {raw.table(LabOrder, 'o')} ON o.id = s.order_id "
        f"JOIN {raw.table(Patient, 'p')} ON p.id = o.patient_id "
        f"WHERE s.accession IN ({raw.marks(len(accessions))})" + raw.for_update("s")
    )
    columns = [
        *((Sample, name) for name in SAMPLE_COLUMNS),
        (LabOrder, "patient_id"),
        (Patient, "sex"),
        (Patient, "date_of_birth"),
    ]
    names = [*SAMPLE_COLUMNS, "patient_id", "sex", "date_of_birth"]
    found = {}
    for sample in raw.select(sql, sorted(accessions), columns, names):
        sample.patient = SimpleNamespace(sex=sample.sex, date_of_birth=sample.date_of_birth)
        found[sample.accession] = sample
    return found


def _insert_sealed(inbounds: list[InboundMessage], contexts: list) -> list[ledger.Change]:
    """The messages' rows in one INSERT and their seals (which hash the new ids) in one
    UPDATE; returns each one's creation (in its connection's context), to be recorded."""
    insert_returning_ids(InboundMessage, inbounds)
    afters = [seal(m) for m in inbounds]
    update_rows(InboundMessage, inbounds, ["seal"])
    return [
        ledger.sealed_change(
            m,
            action=LedgerAction.CREATE,
            before=None,
            after=after,
            reason=m.detail[:200],
            request_context=ctx,
        )
        for m, after, ctx in zip(inbounds, afters, contexts, strict=True)
    ]


RESULT_COLUMNS = tuple(f.attname for f in Result._meta.concrete_fields)


def _live_results_of(sample_ids: list[int], tests: dict[int, LabTest]) -> dict[int, list]:
    """Each sample's current results, locked, with their tests from the listener's
    cached catalogue (one statement for all the samples).

    Rows, not model objects: a result here is read, judged, changed and written back
    by attribute name only (the ledger's state and `update_rows` read it that way), and
    building a 30-column model object per result was a fifth of a batch's time."""
    if not sample_ids:
        return {}
    sql = (
        f"SELECT {raw.columns_sql('r', Result, RESULT_COLUMNS)}, i.sample_id "  # noqa: S608
        f"FROM {raw.table(Result, 'r')} "
        f"JOIN {raw.table(OrderItem, 'i')} ON i.id = r.item_id "
        f"WHERE i.sample_id IN ({raw.marks(len(sample_ids))}) "
        "AND r.status <> %s AND i.status <> %s ORDER BY r.item_id, r.position" + raw.for_update("r")
    )
    found = raw.select(
        sql,
        [*sorted(sample_ids), ResultStatus.AMENDED, ItemStatus.CANCELLED],
        [*((Result, name) for name in RESULT_COLUMNS), (OrderItem, "sample_id")],
        [*RESULT_COLUMNS, "sample_key"],
    )
    by_sample: dict[int, list] = {}
    for result in _with_tests(found, tests):
        by_sample.setdefault(result.sample_key, []).append(result)
    return by_sample


def _with_tests(results: list, tests: dict[int, LabTest]) -> list:
    missing = {r.test_id for r in results} - tests.keys()
    if missing:  # a test added since the cache was read
        tests = {
            **tests,
            **{t.pk: t for t in LabTest.objects.filter(pk__in=missing).prefetch_related("ranges")},
        }
    for result in results:
        result.test = tests[result.test_id]
    return results


def message_match(*, actor, message: InboundMessage, accession: str) -> Outcome:
    """A technician matches a waiting message to the right sample (a relabelled tube)
    or, once the cause of its error is fixed, processes it again."""
    require_perm(actor, Perm.LAB_MESSAGES)
    from ajeya.lab import hl7

    accession = normalise_accession(accession)
    with transaction.atomic():
        current = locked(InboundMessage.objects).get(pk=message.pk)
        if current.status not in (MessageStatus.UNMATCHED, MessageStatus.ERROR):
            raise Conflict(f"Message {current.control_id} is {current.get_status_display()}.")
        try:
            parsed = hl7.read_oru(current.raw)
        except hl7.HL7Error as exc:
            raise ValidationFailed(
                {"accession": [f"The message cannot be read: {exc.text}"]}
            ) from None
        parsed.accession = accession
        parsed.control_id = f"{current.control_id}#{current.pk}"  # a new key: applied once
        outcome = _store_batch([parsed])[0]
        if outcome.ack != AckCode.ACCEPT or outcome.status != MessageStatus.APPLIED:
            raise ValidationFailed({"accession": [outcome.text]})
        before = state_of(current)
        current.status = MessageStatus.MATCHED
        current.resolved_at, current.resolved_by = clock.now(), actor
        current.resolution_note = f"matched to {accession}"
        ledger.save_sealed(current, actor=actor, before=before, reason=current.resolution_note)
    return outcome


def message_dismiss(*, actor, message: InboundMessage, reason: str) -> InboundMessage:
    require_perm(actor, Perm.LAB_MESSAGES)
    reason = require_reason(reason, why="Say why the message is set aside")
    with transaction.atomic():
        current = locked(InboundMessage.objects).get(pk=message.pk)
        if current.status not in (MessageStatus.UNMATCHED, MessageStatus.ERROR):
            raise Conflict(f"Message {current.control_id} is {current.get_status_display()}.")
        before = state_of(current)
        current.status = MessageStatus.DISMISSED
        current.resolved_at, current.resolved_by = clock.now(), actor
        current.resolution_note = reason[:200]
        ledger.save_sealed(
            current, actor=actor, before=before, reason=reason, action=LedgerAction.CANCEL
        )
    return current
