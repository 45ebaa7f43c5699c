"""The demo hospital's reports: three schedules an administrator would set up (the
daily collections, the weekly OPD census, the monthly department-wise revenue), each run
once so the archive has something to open. Safe to run again: schedules are made once,
and a period already run is not run again."""

from __future__ import annotations

from ajeya.accounts.models import User
from ajeya.core.roles import Role
from ajeya.reports import services
from ajeya.reports.models import ReportRun, ReportSchedule

SCHEDULES = [
    ("collections", "daily"),
    ("opd-census", "weekly"),
    ("department-revenue", "monthly"),
]


def seed_reports() -> dict[str, int]:
    admin = User.objects.filter(role=Role.HOSPITAL_ADMIN, is_active=True).order_by("pk").first()
    if admin is None:
        return {"schedules": 0, "runs": 0}
    existing = set(ReportSchedule.objects.values_list("report", "frequency"))
    for slug, frequency in SCHEDULES:
        if (slug, frequency) not in existing:
            services.schedule_create(actor=admin, slug=slug, frequency=frequency)
    services.run_due()
    return {"schedules": ReportSchedule.objects.count(), "runs": ReportRun.objects.count()}
