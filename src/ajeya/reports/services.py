"""Scheduled reports: create and stop a schedule, and run the ones that are due into
the archive (CSV, XLSX and PDF files named by their SHA-256, a ReportRun for each).
Every change is ledgered; the few reads the schedule pages need are at the end."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import transaction

from ajeya.core import clock
from ajeya.core.errors import Conflict, PermissionRefused, ValidationFailed
from ajeya.core.locking import locked
from ajeya.core.models import Department
from ajeya.core.periods import Period
from ajeya.core.roles import Perm, has_perm, require_perm
from ajeya.core.tables import csv_bytes, pdf_bytes, xlsx_bytes
from ajeya.ledger import registry as ledger_registry
from ajeya.ledger.services import create_sealed, save_sealed
from ajeya.reports import registry
from ajeya.reports.models import Frequency, ReportRun, ReportSchedule, RunStatus

FORMATS = ("csv", "xlsx", "pdf")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def archive_dir() -> Path:
    """Where the archive's files live (created on first use)."""
    path = Path(settings.AJEYA_REPORTS_ARCHIVE_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


# -- the calendar --------------------------------------------------------------------------


def period_for(frequency: str, today: dt.date) -> Period:
    """The period a run on `today` covers: yesterday; the last Monday to Sunday; the last
    calendar month."""
    if frequency == Frequency.DAILY:
        day = today - dt.timedelta(days=1)
        return Period(day, day)
    if frequency == Frequency.WEEKLY:
        sunday = today - dt.timedelta(days=today.weekday() + 1)
        return Period(sunday - dt.timedelta(days=6), sunday)
    last = today.replace(day=1) - dt.timedelta(days=1)
    return Period(last.replace(day=1), last)


def next_run_after(frequency: str, today: dt.date) -> dt.date:
    """The next day a schedule runs: tomorrow; next Monday; the 1st of next month."""
    if frequency == Frequency.DAILY:
        return today + dt.timedelta(days=1)
    if frequency == Frequency.WEEKLY:
        return today + dt.timedelta(days=7 - today.weekday())
    return (today.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


# -- schedules ------------------------------------------------------------------------------


def schedule_create(
    *, actor, slug: str, frequency: str, department: Department | None = None
) -> ReportSchedule:
    """Schedule a report; its first run is at the worker's next round today."""
    require_perm(actor, Perm.REPORTS_SCHEDULE)
    errors: dict[str, list[str]] = {}
    report = registry.REPORTS.get(slug)
    if report is None:
        errors["report"] = [f"There is no report {slug!r}."]
    if frequency not in Frequency.values:
        errors["frequency"] = [
            f"{frequency!r} is not a frequency: choose daily, weekly or monthly."
        ]
    if errors:
        raise ValidationFailed(errors)
    if not has_perm(actor, report.perm):
        raise PermissionRefused(f"Your role may not run the report {report.title!r}.")
    with transaction.atomic():
        if ReportSchedule.objects.filter(
            report=slug, frequency=frequency, department=department, active=True
        ).exists():
            raise ValidationFailed(
                {"__all__": [f"{report.title} is already scheduled {frequency} for this choice."]}
            )
        schedule = ReportSchedule(
            report=slug,
            frequency=frequency,
            department=department,
            created_by=actor,
            created_at=clock.now(),
            active=True,
            next_run_on=clock.today(),
        )
        create_sealed(schedule, actor=actor)
    return schedule


def schedule_stop(*, actor, schedule: ReportSchedule, reason: str) -> ReportSchedule:
    require_perm(actor, Perm.REPORTS_SCHEDULE)
    if not (reason or "").strip():
        raise ValidationFailed({"reason": ["Say why the schedule is stopped."]})
    with transaction.atomic():
        current = locked(ReportSchedule.objects).get(pk=schedule.pk)
        if not current.active:
            raise Conflict("This schedule is already stopped.")
        before = ledger_registry.state_of(current)
        current.active = False
        save_sealed(current, actor=actor, before=before, reason=reason.strip())
    return current


# -- running --------------------------------------------------------------------------------


def _store(data: bytes, ext: str) -> tuple[str, int]:
    """Keep `data` under its SHA-256; an existing file (the same bytes) is left alone."""
    digest = hashlib.sha256(data).hexdigest()
    target = archive_dir() / f"{digest}.{ext}"
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    return digest, len(data)


def _generate(schedule: ReportSchedule, period: Period) -> dict:
    report = registry.get(schedule.report)
    tables = registry.run(schedule.report, period, schedule.department)
    heading = [f"Period: {period}"]
    if schedule.department is not None:
        heading.append(f"Department: {schedule.department.name}")
    title = f"{report.title}, {period}"
    made = {
        "csv": csv_bytes(title, tables, heading=[[h] for h in heading]),
        "xlsx": xlsx_bytes(title, tables, heading=[[h] for h in heading]),
        "pdf": pdf_bytes(title, tables, printed_by="Scheduled report", heading=heading),
    }
    dept = f"-{schedule.department.code}" if schedule.department else ""
    stem = f"{schedule.report}-{period.start:%Y%m%d}-{period.end:%Y%m%d}{dept}"
    files = {}
    for fmt, data in made.items():
        digest, size = _store(data, fmt)
        files[fmt] = {"sha256": digest, "name": f"{stem}.{fmt}", "size": size}
    return files


def _run_one(schedule_id: int, today: dt.date) -> ReportRun | None:
    with transaction.atomic():
        # The department is read after the lock: a lock may not reach through the
        # outer join a nullable foreign key makes (PostgreSQL refuses it).
        schedule = (
            locked(ReportSchedule.objects)
            .filter(pk=schedule_id, active=True, next_run_on__lte=today)
            .first()
        )
        if schedule is None:
            return None  # stopped or run by another worker meanwhile
        period = period_for(schedule.frequency, today)
        run = None
        if not ReportRun.objects.filter(
            schedule=schedule, period_start=period.start, period_end=period.end
        ).exists():
            run = ReportRun(
                schedule=schedule,
                period_start=period.start,
                period_end=period.end,
                status=RunStatus.DONE,
            )
            try:
                with transaction.atomic():  # a failing report's queries roll back alone
                    run.files = _generate(schedule, period)
            except Exception as exc:  # any report's failure is recorded, not raised
                run.status = RunStatus.FAILED
                run.error = f"{type(exc).__name__}: {exc}"[:2000]
                run.files = {}
            run.generated_at = clock.now()
            create_sealed(run, actor=None)
        before = ledger_registry.state_of(schedule)
        schedule.next_run_on = next_run_after(schedule.frequency, today)
        save_sealed(schedule, actor=None, before=before, reason="scheduled run")
        return run


def run_due(now: dt.datetime | None = None) -> list[ReportRun]:
    """Run every active schedule due today (or earlier): write its files and its
    ReportRun, advance its next day. A report that fails is recorded as failed and the
    others still run; a period already run is not run again."""
    today = clock.local(now).date() if now is not None else clock.today()
    due = ReportSchedule.objects.filter(active=True, next_run_on__lte=today).order_by("pk")
    runs = []
    for schedule_id in list(due.values_list("pk", flat=True)):
        run = _run_one(schedule_id, today)
        if run is not None:
            runs.append(run)
    return runs
