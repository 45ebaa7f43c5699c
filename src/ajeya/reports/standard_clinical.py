"""Clinical standard reports: OPD census, IPD census, doctor-wise consultations,
scheme-wise patients, lab workload. Each counts in the database (values().annotate())
in a handful of queries whatever the number of rows it counts."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from ajeya.accounts.models import User
from ajeya.appointments.models import Clinic
from ajeya.core.models import Department
from ajeya.core.periods import Period
from ajeya.core.roles import Perm
from ajeya.core.tables import Table
from ajeya.ipd.models import Admission, Bed, BedStay, Discharge, DischargeType
from ajeya.lab.models import ItemStatus, OrderItem, Section
from ajeya.patients.models import PatientCategory, Scheme
from ajeya.reports import rollup
from ajeya.reports.charts import daily_chart
from ajeya.reports.registry import Report, register


def _day(field: str) -> TruncDate:
    """The IST day of a stored UTC time, worked out by the database."""
    return TruncDate(field, tzinfo=timezone.get_default_timezone())


def _total(label: str, rows: list[list], first_number: int) -> list:
    width = len(rows[0]) if rows else first_number
    sums = [sum(r[i] for r in rows if isinstance(r[i], int)) for i in range(first_number, width)]
    return [label, *[""] * (first_number - 1), *sums]


# -- daily OPD census --------------------------------------------------------------------

OPD_HEADER = ["Date", "Department", "Visits", "By appointment", "Walk-in", "Seen", "Not answered"]


def _clinic_departments(department: Department | None) -> dict[int, str]:
    """Clinic id → its department's name (a handful of rows): the big tables are grouped
    by their own clinic column and named here, instead of joined per row."""
    clinics = Clinic.objects.all()
    if department is not None:
        clinics = clinics.filter(department=department)
    return dict(clinics.values_list("id", "department__name"))


def opd_census(period: Period, department: Department | None) -> list[Table]:
    names = _clinic_departments(department)
    cells: dict[tuple[dt.date, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for c in rollup.cells(period.start, period.end):
        if c.clinic in names:
            cell = cells[(c.date, names[c.clinic])]
            for n, count in enumerate((c.visits, c.booked, c.seen, c.no_show)):
                cell[n] += count
    rows = [
        [day, name, visits, booked, visits - booked, seen, no_show]
        for (day, name), (visits, booked, seen, no_show) in sorted(cells.items())
    ]
    return [
        Table(
            title="OPD visits by day and department",
            header=OPD_HEADER,
            rows=rows,
            total=_total("Total", rows, 2) if rows else None,
            note=(
                "Every visit counts, so a patient transferred to another clinic counts in "
                "both. Seen: the consultation was finished. Not answered: the patient did "
                "not answer the call."
            ),
        )
    ]


register(
    Report(
        slug="opd-census",
        title="Daily OPD census",
        description=(
            "OPD visits per day and department: by appointment or walk-in, seen, not "
            "answered (every visit counts, transfers in both clinics)."
        ),
        perm=Perm.REPORTS_VIEW,
        compute=opd_census,
        chart=daily_chart(2, "OPD visits per day"),
    )
)


# -- IPD census --------------------------------------------------------------------------

LEAVING = [
    (DischargeType.NORMAL, "Home"),
    (DischargeType.LAMA, "LAMA"),
    (DischargeType.REFERRED, "Referred"),
    (DischargeType.ABSCONDED, "Absconded"),
    (DischargeType.DEATH, "Deaths"),
]
IPD_HEADER = [
    "Date", "Admissions", *[label for _, label in LEAVING], "Discharges",
    "Inpatients at midnight", "Beds", "Occupancy %",
]  # fmt: skip


def _midnights(period: Period) -> list[dt.datetime]:
    """The midnight (IST) that ends each day of the period."""
    first, _ = period.bounds()
    return [first + dt.timedelta(days=n + 1) for n in range(period.days)]


def ipd_census(period: Period, department: Department | None) -> list[Table]:
    start, end = period.bounds()
    # An admission counts where its first bed was; a discharge where its last bed was;
    # a patient at midnight where they lay at that moment.
    first_stays = BedStay.objects.filter(
        started_at=F("admission__admitted_at"), started_at__gte=start, started_at__lt=end
    )
    discharges = Discharge.objects.filter(discharged_at__gte=start, discharged_at__lt=end)
    stays = BedStay.objects.filter(started_at__lt=end).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=start)
    )
    beds = Bed.objects.filter(ward__is_active=True)
    if department is not None:
        first_stays = first_stays.filter(bed__ward__department=department)
        discharges = discharges.filter(admission__bed__ward__department=department)
        stays = stays.filter(bed__ward__department=department)
        beds = beds.filter(ward__department=department)
    admitted = {
        r["day"]: r["n"]
        for r in first_stays.values(day=_day("started_at")).annotate(n=Count("id")).order_by()
    }
    left: dict[dt.date, dict[str, int]] = defaultdict(dict)
    for r in (
        discharges.values("kind", day=_day("discharged_at")).annotate(n=Count("id")).order_by()
    ):
        left[r["day"]][r["kind"]] = r["n"]
    midnights = _midnights(period)
    at_midnight = stays.aggregate(
        **{
            f"d{n}": Count(
                "id",
                filter=Q(started_at__lte=m) & (Q(ended_at__isnull=True) | Q(ended_at__gt=m)),
            )
            for n, m in enumerate(midnights)
        }
    )
    bed_count = beds.count()
    rows = []
    for n, day in enumerate(period.dates()):
        kinds = [left[day].get(kind, 0) for kind, _ in LEAVING]
        inside = at_midnight[f"d{n}"]
        occupancy = (
            (Decimal(100 * inside) / bed_count).quantize(Decimal("0.1")) if bed_count else None
        )
        rows.append([day, admitted.get(day, 0), *kinds, sum(kinds), inside, bed_count, occupancy])
    total = [*_total("Total", [r[:8] for r in rows], 1), "", "", ""]
    return [
        Table(
            title="Inpatients by day",
            header=IPD_HEADER,
            rows=rows,
            total=total,
            note=(
                "Admissions count in the ward of the first bed, discharges in the ward of the "
                "last; inpatients are counted at the midnight ending each day. Beds: the beds "
                "of active wards today."
            ),
        )
    ]


register(
    Report(
        slug="ipd-census",
        title="IPD census",
        description=(
            "Admissions, discharges by type (deaths included), inpatients at midnight, beds "
            "and occupancy per day."
        ),
        perm=Perm.REPORTS_VIEW,
        compute=ipd_census,
        chart=daily_chart(8, "Inpatients at midnight"),
    )
)


# -- doctor-wise consultations -----------------------------------------------------------


def doctor_consultations(period: Period, department: Department | None) -> list[Table]:
    names = _clinic_departments(department)
    groups: dict[tuple[int, str], list] = defaultdict(lambda: [0, set(), 0])
    for c in rollup.cells(period.start, period.end):
        if c.doctor is not None and c.clinic in names:
            group = groups[(c.doctor, names[c.clinic])]
            group[0] += c.consultations
            group[1].update(c.patients)
            group[2] += c.admit_advised
    doctors = {
        u["id"]: (u["full_name"], u["username"])
        for u in User.objects.filter(pk__in={d for d, _ in groups}).values(
            "id", "full_name", "username"
        )
    }
    ordered = sorted(groups.items(), key=lambda g: (*doctors[g[0][0]], g[0][1]))
    rows = [
        [doctors[doctor][0] or doctors[doctor][1], name, n, len(patients), admit]
        for (doctor, name), (n, patients, admit) in ordered
    ]
    total = None
    if rows:
        total = _total("Total", rows, 2)
        total[3] = len(set().union(*(patients for _, patients, _ in groups.values())))
    return [
        Table(
            title="Consultations by doctor",
            header=["Doctor", "Department", "Consultations", "Patients", "Admission advised"],
            rows=rows,
            total=total,
            note="Consultations written for visits in the period, by the clinic's department.",
        )
    ]


register(
    Report(
        slug="doctor-consultations",
        title="Doctor-wise consultations",
        description="Consultations, patients and admissions advised per doctor and department.",
        perm=Perm.REPORTS_VIEW,
        compute=doctor_consultations,
    )
)


# -- scheme-wise patients ----------------------------------------------------------------


def _group(category: str, scheme: str) -> str:
    if category == PatientCategory.SCHEME:
        return Scheme(scheme).label if scheme in Scheme.values else "Scheme (not named)"
    return PatientCategory(category).label if category in PatientCategory.values else category


def _group_order() -> list[str]:
    plain = [c.label for c in PatientCategory if c != PatientCategory.SCHEME]
    return [*plain, *[s.label for s in Scheme], "Scheme (not named)"]


def scheme_patients(period: Period, department: Department | None) -> list[Table]:
    start, end = period.bounds()
    admissions = Admission.objects.filter(admitted_at__gte=start, admitted_at__lt=end)
    if department is not None:
        admissions = admissions.filter(
            stays__started_at=F("admitted_at"), stays__bed__ward__department=department
        )
    names = _clinic_departments(department)
    people: dict[str, set[int]] = defaultdict(set)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for c in rollup.cells(period.start, period.end):
        if c.clinic in names:
            group = _group(c.category, c.scheme)
            people[group].update(c.patients)
            counts[group][1] += c.visits
    # Admissions are few: read once, each counted once in its group, and its patient
    # joins the visitors' set (a patient counted once).
    admitted = set(admissions.values_list("id", "patient", "patient__category", "patient__scheme"))
    for _, patient, category, scheme in admitted:
        group = _group(category, scheme)
        people[group].add(patient)
        counts[group][2] += 1
    for group, patients in people.items():
        counts[group][0] = len(patients)
    order = {label: n for n, label in enumerate(_group_order())}
    rows = [
        [label, *numbers]
        for label, numbers in sorted(counts.items(), key=lambda i: order.get(i[0], len(order)))
    ]
    return [
        Table(
            title="Patients by category and scheme",
            header=["Category / scheme", "Patients", "OPD visits", "Admissions"],
            rows=rows,
            total=_total("Total", rows, 1) if rows else None,
            note=(
                "Patients who visited the OPD or were admitted in the period, each counted "
                "once under their category today."
            ),
        )
    ]


register(
    Report(
        slug="scheme-patients",
        title="Scheme-wise patients",
        description=(
            "Distinct patients, OPD visits and admissions by category and scheme (General, "
            "BPL, Staff, CGHS, PM-JAY, ...)."
        ),
        perm=Perm.REPORTS_VIEW,
        compute=scheme_patients,
    )
)


# -- lab workload ------------------------------------------------------------------------

LAB_HEADER = ["Date", "Section", "Ordered", "Authorised", "Cancelled", "Median TAT (min)"]


def _median(minutes: list[float]) -> int | str:
    return round(statistics.median(minutes)) if minutes else ""


def lab_workload(period: Period, department: Department | None) -> list[Table]:
    start, end = period.bounds()
    cells: dict[tuple[dt.date, str], list] = defaultdict(lambda: [0, 0, 0, []])
    for r in (
        OrderItem.objects.filter(order__ordered_at__gte=start, order__ordered_at__lt=end)
        .values("panel__section", day=_day("order__ordered_at"))
        .annotate(n=Count("id"), cancelled=Count("id", filter=Q(status=ItemStatus.CANCELLED)))
        .order_by()
    ):
        cell = cells[(r["day"], r["panel__section"])]
        cell[0], cell[2] = r["n"], r["cancelled"]
    everything: list[float] = []
    for day, section, took in (
        OrderItem.objects.filter(
            status=ItemStatus.AUTHORISED, authorised_at__gte=start, authorised_at__lt=end
        )
        .annotate(day=_day("authorised_at"), took=F("authorised_at") - F("order__ordered_at"))
        .values_list("day", "panel__section", "took")
        .order_by()
    ):
        cell = cells[(day, section)]
        cell[1] += 1
        cell[3].append(took.total_seconds() / 60)
        everything.append(took.total_seconds() / 60)
    labels = dict(Section.choices)
    order = {s: n for n, s in enumerate(Section.values)}
    rows = [
        [day, labels.get(section, section), ordered, authorised, cancelled, _median(minutes)]
        for (day, section), (ordered, authorised, cancelled, minutes) in sorted(
            cells.items(), key=lambda i: (i[0][0], order.get(i[0][1], len(order)))
        )
    ]
    total = None
    if rows:
        total = [*_total("Total", [r[:5] for r in rows], 2), _median(everything)]
    return [
        Table(
            title="Laboratory tests by day and section",
            header=LAB_HEADER,
            rows=rows,
            total=total,
            note=(
                "A test is one ordered panel or single test. Ordered and cancelled count by "
                "the day ordered, authorised by the day authorised; turnaround is from order "
                "to authorisation. The laboratory serves every department, so the department "
                "filter does not apply."
            ),
        )
    ]


register(
    Report(
        slug="lab-workload",
        title="Lab workload",
        description=(
            "Tests ordered, authorised and cancelled per section and day, with the median "
            "turnaround from order to authorisation."
        ),
        perm=Perm.REPORTS_VIEW,
        compute=lab_workload,
        chart=daily_chart(2, "Laboratory tests ordered per day"),
    )
)
