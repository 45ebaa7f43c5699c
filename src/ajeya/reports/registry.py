"""The standard reports, each registered once: what it is called, who may run it, and how
it is computed from the services' selectors for a period and (optionally) a department.

Pages, exports (CSV, XLSX, PDF) and the scheduled-report worker all go through
`run(slug, period, department)`, so a report is written once and appears everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ajeya.core.errors import NotFound
from ajeya.core.models import Department
from ajeya.core.periods import Period
from ajeya.core.roles import Perm
from ajeya.core.tables import Table


@dataclass(frozen=True)
class Report:
    slug: str  # in URLs and schedules: "opd-census"
    title: str  # "Daily OPD census"
    description: str  # one sentence for the reports index
    perm: Perm  # who may run it (pages, exports, schedules)
    compute: Callable[[Period, Department | None], list[Table]]
    chart: Callable[[list[Table]], str] | None = None  # an inline SVG of the main table
    max_days: int = 92  # the longest period it accepts


REPORTS: dict[str, Report] = {}


def register(report: Report) -> Report:
    REPORTS[report.slug] = report
    return report


def get(slug: str) -> Report:
    try:
        return REPORTS[slug]
    except KeyError:
        raise NotFound(f"There is no report {slug!r}.") from None


def run(slug: str, period: Period, department: Department | None = None) -> list[Table]:
    report = get(slug)
    period.check(max_days=report.max_days)
    return report.compute(period, department)
