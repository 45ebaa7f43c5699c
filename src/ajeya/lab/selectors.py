"""Reads for the laboratory's pages, the wards and the report checker."""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from dataclasses import dataclass, field
from decimal import Decimal

import orjson
from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    TextChoices,
    Value,
    When,
)

from ajeya.core import clock
from ajeya.core.errors import Conflict, NotFound
from ajeya.lab.models import (
    PRIORITY_RANK,
    Analyzer,
    AnalyzerMapping,
    CriticalAlert,
    InboundMessage,
    ItemStatus,
    LabOrder,
    LabTest,
    MessageStatus,
    OrderItem,
    OrderSource,
    Panel,
    ReferenceRange,
    Report,
    Result,
    ResultStatus,
    Sample,
    SampleStatus,
    Section,
)
from ajeya.ledger.canonical import state_hash
from ajeya.ledger.models import LedgerAction, LedgerEntry
from ajeya.ledger.registry import for_model, state_of
from ajeya.ledger.services import CHANGES, entry_digest


def _key(value: str, missing: str) -> str:
    """An identifier from an address or a form, stripped. One holding a NUL names nothing
    (and PostgreSQL refuses it in a query with an error): not found, before any query.
    `missing` is the message, with `{}` for the value as typed."""
    value = (value or "").strip()
    if "\x00" in value:
        raise NotFound(missing.format(value.replace("\x00", "")))
    return value


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


# -- the laboratory's pages (views.py) -------------------------------------------------


@dataclass
class SectionCounts:
    section: str
    label: str
    awaiting: int = 0
    to_receive: int = 0
    to_enter: int = 0
    to_verify: int = 0
    to_authorise: int = 0


COUNT_COLUMNS = ("awaiting", "to_receive", "to_enter", "to_verify", "to_authorise")


def home_counts() -> dict:
    """Per section: samples to collect and to receive, and received samples with results
    to enter, verify or authorise (a sample counts once in each column it has work in)."""
    rows = {s: SectionCounts(s, label) for s, label in Section.choices}
    by_status = (
        Sample.objects.filter(status__in=(SampleStatus.AWAITING, SampleStatus.COLLECTED))
        .values_list("section", "status")
        .annotate(n=Count("pk"))
    )
    for section, status, n in by_status:
        row = rows[section]
        if status == SampleStatus.AWAITING:
            row.awaiting = n
        else:
            row.to_receive = n
    work = (
        Result.objects.filter(
            item__sample__status=SampleStatus.RECEIVED,
            status__in=(ResultStatus.PENDING, ResultStatus.ENTERED, ResultStatus.VERIFIED),
        )
        .exclude(item__status=ItemStatus.CANCELLED)
        .values_list("item__sample__section", "status")
        .annotate(n=Count("item__sample", distinct=True))
    )
    column = {
        ResultStatus.PENDING: "to_enter",
        ResultStatus.ENTERED: "to_verify",
        ResultStatus.VERIFIED: "to_authorise",
    }
    for section, status, n in work:
        setattr(rows[section], column[status], n)
    total = SectionCounts("", "All sections")
    for row in rows.values():
        for name in COUNT_COLUMNS:
            setattr(total, name, getattr(total, name) + getattr(row, name))
    return {"rows": list(rows.values()), "total": total}


def orderable_panels():
    """What may be ordered, by section then name: the counter's checkboxes, the ward's
    order form and the OPD consultation's list of tests."""
    return Panel.objects.filter(is_active=True).order_by("section", "name")


def panels_by_section() -> list[tuple[str, list[Panel]]]:
    groups: dict[str, list[Panel]] = {}
    for panel in orderable_panels():
        groups.setdefault(panel.section, []).append(panel)
    labels = dict(Section.choices)
    return [(labels[s], groups[s]) for s, _ in Section.choices if s in groups]


def _live_items():
    return Prefetch(
        "items",
        queryset=OrderItem.objects.exclude(status=ItemStatus.CANCELLED).select_related("panel"),
    )


def collection_rows(*, section: str | None = None) -> list[Sample]:
    """The collection list with each sample's tests (recollections say why)."""
    return list(collection_list(section=section).prefetch_related(_live_items()))


def reception_list():
    """Collected samples on their way to the lab, STAT first, then oldest collection."""
    return (
        Sample.objects.filter(status=SampleStatus.COLLECTED)
        .select_related("order__patient")
        .prefetch_related(_live_items())
        .annotate(rank=_PRIORITY_ORDER)
        .order_by("rank", "collected_at")
    )


def _count(status: str, tests=None):
    condition = Q(items__results__status=status) & ~Q(items__status=ItemStatus.CANCELLED)
    if tests is not None:
        condition &= Q(items__results__test_id__in=tests)
    return Count("items__results", filter=condition, distinct=True)


def worklist(*, section: str, tests=None) -> list[Sample]:
    """Received samples of a section with results still to enter, verify or authorise,
    STAT first then by receipt time; `tests` narrows to one analyzer's tests (only
    samples with a pending one)."""
    open_items = OrderItem.objects.filter(
        sample=OuterRef("pk"), status__in=(ItemStatus.ORDERED, ItemStatus.IN_PROGRESS)
    )
    query = Sample.objects.filter(status=SampleStatus.RECEIVED, section=section).filter(
        Exists(open_items)
    )
    if tests is not None:
        query = query.filter(
            Exists(
                Result.objects.filter(
                    item__sample=OuterRef("pk"),
                    status=ResultStatus.PENDING,
                    test_id__in=tests,
                ).exclude(item__status=ItemStatus.CANCELLED)
            )
        )
    return list(
        query.select_related("order__patient")
        .prefetch_related(_live_items())
        .annotate(
            rank=_PRIORITY_ORDER,
            pending=_count(ResultStatus.PENDING, tests),
            entered=_count(ResultStatus.ENTERED, tests),
            verified=_count(ResultStatus.VERIFIED, tests),
        )
        .order_by("rank", "received_at", "accession")
    )


def analyzer_get(code: str) -> Analyzer:
    key = _key(code, "No analyzer has code {}.").upper()
    analyzer = Analyzer.objects.filter(code=key, is_active=True).first()
    if analyzer is None:
        raise NotFound(f"No analyzer has code {code}.")
    return analyzer


def analyzer_tests(analyzer: Analyzer) -> list[int]:
    return list(AnalyzerMapping.objects.filter(analyzer=analyzer).values_list("test_id", flat=True))


def analyzers() -> list[Analyzer]:
    return list(Analyzer.objects.filter(is_active=True).order_by("section", "code"))


def order_get(number: str) -> LabOrder:
    key = _key(number, "No lab order has number {}.").upper()
    try:
        return order_detail(key)
    except LabOrder.DoesNotExist:
        raise NotFound(f"No lab order has number {number}.") from None


def walk_in_order_get(number: str) -> LabOrder:
    """An order as the counter's confirmation shows it: walk-in orders only. The counter's
    staff may not read the lab's records, so a ward's or a clinic's order (its clinical
    notes, its doctor, its tests) is not found here."""
    order = order_get(number)
    if order.source != OrderSource.WALK_IN:
        raise NotFound(f"No walk-in lab order has number {number}.")
    return order


def patient_get(uhid: str):
    """The patient of a lab page's address (the patients' own lookup, NUL-safe)."""
    from ajeya.patients import selectors as patients

    return patients.patient_get(_key(uhid, "No patient has UHID {}."))


def admission_get(number: str):
    """The admission a ward's lab order is for (the wards' own lookup, NUL-safe)."""
    from ajeya.ipd import selectors as ipd

    return ipd.admission_get(_key(number, "No admission has number {}."))


def sample_get(accession: str) -> Sample:
    sample = (
        Sample.objects.select_related(
            "order__patient",
            "order__doctor",
            "order__admission__bed",
            "recollection_of",
            "collected_by",
            "received_by",
            "rejected_by",
        )
        .filter(accession=_key(accession, "No sample has accession number {}."))
        .first()
    )
    if sample is None:
        raise NotFound(f"No sample has accession number {accession}.")
    return sample


def recollection_of(sample: Sample) -> Sample | None:
    """The sample that replaced this one when it was rejected, if any."""
    return Sample.objects.filter(recollection_of=sample).first()


def sample_results(sample: Sample) -> list[Result]:
    """The live results, each with `expected_range`: the range the value is judged by
    (the copied one once a value is in, else the catalogue's for this patient)."""
    from ajeya.lab.services import range_text, reference_range

    rows = list(
        live_results(sample)
        .select_related("entered_by", "analyzer")
        .prefetch_related("test__ranges")
    )
    patient = sample.order.patient
    on = clock.local(sample.collected_at or clock.now()).date()
    for r in rows:
        r.expected_range = r.range_text or range_text(r.test, reference_range(r.test, patient, on))
        r.options = [c for c in r.test.choices.split("|") if c]
    return rows


def amended_results(sample: Sample) -> list[Result]:
    """Authorised values that were later corrected, with the correction."""
    return list(
        Result.objects.filter(item__sample=sample, status=ResultStatus.AMENDED)
        .select_related("test", "authorised_by", "amended_by__entered_by")
        .order_by("test__code", "authorised_at")
    )


def result_get(pk: int) -> Result:
    result = Result.objects.select_related("item__sample", "test").filter(pk=pk).first()
    if result is None:
        raise NotFound(f"No result {pk}.")
    return result


RECENT = 20
EVERY_AGE = 54750  # 150 years: the catalogue's "any age"


def alerts_page(user) -> dict:
    """The doctor's open critical results first (oldest first), then open ones that no
    hospital doctor was named for, then those the doctor acknowledged lately."""
    related = ("result__test", "result__item__order", "result__item__sample", "patient")
    return {
        "mine": list(open_alerts_for(user).select_related(*related)),
        "unassigned": list(
            CriticalAlert.objects.filter(doctor__isnull=True, acknowledged_at__isnull=True)
            .select_related(*related)
            .order_by("raised_at")
        ),
        "done": list(
            CriticalAlert.objects.filter(acknowledged_by=user)
            .select_related(*related, "acknowledged_by")
            .order_by("-acknowledged_at")[:RECENT]
        ),
    }


def alert_get(pk: int) -> CriticalAlert:
    alert = CriticalAlert.objects.select_related("patient", "result__test").filter(pk=pk).first()
    if alert is None:
        raise NotFound(f"No critical alert {pk}.")
    return alert


def message_queue() -> dict:
    """Analyzer messages waiting for a person (oldest first), and the latest resolved."""
    open_ = (MessageStatus.UNMATCHED, MessageStatus.ERROR)
    # The sample's patient: the page records who was shown (one query, not two a row).
    base = InboundMessage.objects.select_related(
        "analyzer", "sample__order__patient", "resolved_by"
    )
    return {
        "waiting": list(base.filter(status__in=open_).order_by("received_at")),
        "resolved": list(
            base.filter(status__in=(MessageStatus.MATCHED, MessageStatus.DISMISSED)).order_by(
                "-resolved_at"
            )[:RECENT]
        ),
    }


def message_get(pk: int) -> InboundMessage:
    message = InboundMessage.objects.filter(pk=pk).first()
    if message is None:
        raise NotFound(f"No analyzer message {pk}.")
    return message


def catalogue_page() -> dict:
    """Every active test by section with its ranges, and every panel with its tests."""
    tests = (
        LabTest.objects.filter(is_active=True)
        .prefetch_related(Prefetch("ranges", queryset=ReferenceRange.objects.order_by("sex")))
        .order_by("section", "name")
    )
    from ajeya.lab.services import range_text

    groups: dict[str, list[LabTest]] = {}
    for test in tests:
        groups.setdefault(test.section, []).append(test)
        for r in test.ranges.all():
            r.text = range_text(test, r)
            r.ages = _age_band(r.age_min_days, r.age_max_days)
            r.critical = _critical_text(test, r)
    labels = dict(Section.choices)
    return {
        "sections": [(labels[s], groups[s]) for s, _ in Section.choices if s in groups],
        "panels": list(
            Panel.objects.filter(is_active=True)
            .prefetch_related("items__test")
            .order_by("section", "name")
        ),
    }


def _age_band(first: int, last: int) -> str:
    if first == 0 and last >= EVERY_AGE:
        return ""

    def years(days: int) -> str:
        return f"{days // 365} y" if days % 365 == 0 else f"{days} d"

    if last >= EVERY_AGE:
        return f"from {years(first)}"
    return f"{years(first)} to {years(last)}"


def _critical_text(test: LabTest, r: ReferenceRange) -> str:
    places = test.decimals
    parts = []
    if r.critical_low is not None:
        parts.append(f"< {r.critical_low.quantize(Decimal(1).scaleb(-places)):f}")
    if r.critical_high is not None:
        parts.append(f"> {r.critical_high.quantize(Decimal(1).scaleb(-places)):f}")
    return " or ".join(parts)


def patient_orders(patient, *, limit: int = 50) -> list[LabOrder]:
    """A patient's lab orders, newest first, with their tests and issued reports."""
    return list(
        LabOrder.objects.filter(patient=patient)
        .select_related("doctor")
        .prefetch_related(
            Prefetch("items", queryset=OrderItem.objects.select_related("panel")),
            Prefetch("reports", queryset=Report.objects.order_by("-version")),
        )
        .order_by("-ordered_at")[:limit]
    )


# -- labels, printed reports and the public report check (document_views.py) ------------

log = logging.getLogger("ajeya.lab")


def order_labels(number: str, accession: str = "") -> tuple[LabOrder, list[Sample]]:
    """An order and the samples that need a label: every sample still in use (not
    rejected or cancelled), or just the one asked for (a label reprinted)."""
    key = _key(number, "No lab order has number {}.").upper()
    order = LabOrder.objects.select_related("patient").filter(number=key).first()
    if order is None:
        raise NotFound(f"No lab order has number {number}.")
    samples = (
        order.samples.exclude(status__in=(SampleStatus.REJECTED, SampleStatus.CANCELLED))
        .prefetch_related(
            Prefetch(
                "items",
                queryset=OrderItem.objects.exclude(status=ItemStatus.CANCELLED).select_related(
                    "panel"
                ),
            )
        )
        .order_by("accession")
    )
    if accession:
        samples = samples.filter(accession=_key(accession, "No sample has accession number {}."))
    found = list(samples)
    if not found:
        raise NotFound(
            f"Sample {accession} is not a sample of {order.number} in use."
            if accession
            else f"{order.number} has no sample in use to label."
        )
    return order, found


def report_get(number: str) -> Report:
    key = _key(number, "No laboratory report has number {}.").upper()
    report = Report.objects.select_related("order__patient", "issued_by").filter(number=key).first()
    if report is None:
        raise NotFound(f"No laboratory report has number {number}.")
    return report


def report_versions(report: Report) -> list[Report]:
    """Every version of the report's order, oldest first (this one among them)."""
    return list(Report.objects.filter(order_id=report.order_id).order_by("version"))


class CheckStatus(TextChoices):
    AUTHENTIC = "authentic", "Authentic"
    SUPERSEDED = "superseded", "Authentic, but superseded"
    MISMATCH = "mismatch", "Does not match"
    UNKNOWN = "unknown", "Unknown report"


@dataclass
class ReportCheck:
    """What the report checker found. `report` and `content` are set only when the
    paper's digest matched an intact report: nothing about the patient otherwise."""

    status: str
    number: str
    report: Report | None = None
    content: dict | None = None
    later: list[Report] = field(default_factory=list)  # the versions that replaced it
    problems: list[str] = field(default_factory=list)  # what failed; no patient data

    @property
    def shows_patient(self) -> bool:
        return self.content is not None

    @property
    def patient_line(self) -> str:
        """Who the report is about, as the paper prints it (age on the day of issue)."""
        from ajeya.core.identifiers import format_uhid
        from ajeya.patients.models import Sex, age_text

        patient = self.content["patient"]
        born = dt.date.fromisoformat(patient["date_of_birth"])
        age = age_text(born, clock.local(self.report.issued_at).date())
        return (
            f"{patient['name']} · UHID {format_uhid(patient['uhid'])} · "
            f"{age} / {Sex(patient['sex']).label}"
        )

    @property
    def authorisers(self) -> list[str]:
        return list(
            dict.fromkeys(
                row["authorised_by"]
                for section in self.content["sections"]
                for row in section["results"]
            )
        )


def report_check(number: str, digest: str) -> ReportCheck:
    """Check a printed report's QR code against what the laboratory issued: (a) the
    digest on the paper is the report's content hash, (b) the stored content still
    hashes to it, (c) the ledger's entry for the report's issue recorded that hash and
    is itself intact, (d) the report row's seal matches its state and its last ledger
    entry. Any failure is a mismatch; an intact report replaced by a later version is
    superseded."""
    from ajeya.lab.services import content_hash

    number = (number or "").strip().upper()
    if "\x00" in number:  # names no report; PostgreSQL would refuse it with an error
        return ReportCheck(CheckStatus.UNKNOWN, number.replace("\x00", ""))
    report = Report.objects.select_related("order__patient").filter(number=number).first()
    if report is None:
        return ReportCheck(CheckStatus.UNKNOWN, number)
    given = (digest or "").strip().lower().encode("utf-8")
    paper = (
        []
        if hmac.compare_digest(given, report.content_hash.encode("ascii"))
        else [
            "The code on the paper is not the fingerprint of this report: the paper was "
            "not printed from the report the laboratory issued."
        ]
    )
    stored = _ledger_problems(report)
    if content_hash(report.content) != report.content_hash:
        stored.insert(0, "The laboratory's stored report no longer matches its fingerprint.")
    if state_hash(state_of(report)) != report.seal:
        stored.append("The report's record was changed after it was sealed.")
    if stored:
        # Not a forged paper but the laboratory's own record: the security team must know.
        log.warning("report %s fails its integrity check: %s", number, " ".join(stored))
    if paper or stored:
        return ReportCheck(CheckStatus.MISMATCH, number, problems=paper + stored)
    later = list(
        Report.objects.filter(order_id=report.order_id, version__gt=report.version)
        .select_related("issued_by")
        .order_by("version")
    )
    return ReportCheck(
        CheckStatus.SUPERSEDED if later else CheckStatus.AUTHENTIC,
        number,
        report=report,
        content=orjson.loads(report.content),
        later=later,
    )


def _ledger_problems(report: Report) -> list[str]:
    ledgered = for_model(Report)
    entries = list(
        LedgerEntry.objects.filter(
            subject_type=ledgered.subject_type, subject_id=ledgered.subject_id(report)
        ).order_by("seq")
    )
    if not entries or entries[0].action != LedgerAction.CREATE:
        return ["The ledger has no record of this report being issued."]
    problems = []
    issued = entries[0]
    if entry_digest(CHANGES, issued) != issued.hash:
        problems.append("The ledger entry that recorded this report's issue was altered.")
    try:
        recorded = (issued.after or {}).get("content_hash")
    except ValueError:  # the entry's payload is no longer JSON
        recorded = None
    if recorded != report.content_hash:
        problems.append("The fingerprint the ledger recorded at issue is not the stored one.")
    if entries[-1].state_hash != state_hash(state_of(report)):
        problems.append("The report's record differs from its last ledger entry.")
    return problems


def report_for_print(number: str) -> tuple[Report, list[Report]]:
    """A report to print and all its order's versions; one that fails its own integrity
    check is refused (printing it would hand out a paper the checker rejects)."""
    report = report_get(number)
    check = report_check(report.number, report.content_hash)
    if check.status == CheckStatus.MISMATCH:
        raise Conflict(
            f"Report {report.number} fails its integrity check and is not printed: "
            + " ".join(check.problems)
            + " Tell the IT/security team."
        )
    return report, report_versions(report)
