"""Money standard reports: collections (billing's collection report as tables) and
department-wise revenue billed. Both are for whoever may see billing's reports."""

from __future__ import annotations

from ajeya.billing import reports as billing_reports
from ajeya.core.models import Department
from ajeya.core.periods import Period
from ajeya.core.roles import Perm
from ajeya.core.tables import Table
from ajeya.reports.registry import Report, register

BY_DEPARTMENT = "By department"
REVENUE_COLUMNS = ["Department", "Gross", "Tax", "Total", "Scheme pays", "Patient pays"]


def collections(period: Period, department: Department | None) -> list[Table]:
    """Money received and paid back in the period: by counter, cashier, mode and
    department. A department filter keeps only that department's share of the money."""
    c = billing_reports.collections(start=period.start, end=period.end)
    by_title = {s.title: s for s in billing_reports.sections(c)}
    rows_of = {"By counter": c.by_counter, "By cashier": c.by_cashier, "By mode": c.by_mode,
               BY_DEPARTMENT: c.by_department}  # fmt: skip
    tables = []
    for title, rows in rows_of.items():
        section = by_title[title]
        table = Table(title, section.header, section.rows, section.total, " ".join(c.notes))
        if title == BY_DEPARTMENT and department is not None:
            key = str(department.pk)
            table.rows = [line for r, line in zip(rows, section.rows, strict=True) if r.key == key]
            table.total = None
            table.note = (
                f"Only {department.name}'s share of the money; the other tables are for "
                "the whole hospital."
            )
        tables.append(table)
    return tables


def department_revenue(period: Period, department: Department | None) -> list[Table]:
    """Revenue on bills made in the period, per department of each line (reversals that
    joined a bill count against it, so a cancelled bill adds nothing)."""
    rows, total = billing_reports.billed(*period.bounds(), department)
    cells = [[b.label, b.gross, b.tax, b.total, b.scheme, b.patient] for b in rows]
    note = f"Only {department.name}." if department is not None else ""
    return [
        Table(
            "Revenue billed by department",
            REVENUE_COLUMNS,
            cells,
            ["Total", total.gross, total.tax, total.total, total.scheme, total.patient],
            note,
        )
    ]


register(
    Report(
        slug="collections",
        title="Collections",
        description="Money received and paid back per counter, cashier, mode and department.",
        perm=Perm.BILLING_REPORTS,
        compute=collections,
        max_days=billing_reports.MAX_DAYS,
    )
)
register(
    Report(
        slug="department-revenue",
        title="Department-wise revenue",
        description="Revenue billed per department: gross, tax, and what schemes and patients pay.",
        perm=Perm.BILLING_REPORTS,
        compute=department_revenue,
    )
)
