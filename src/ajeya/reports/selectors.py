"""Reads for the scheduled-report pages: schedules, the archive's runs, and an archived
file after checking that its bytes still hash to what was recorded."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db.models import QuerySet

from ajeya.core.errors import Conflict, NotFound
from ajeya.reports.models import ReportRun, ReportSchedule
from ajeya.reports.services import CONTENT_TYPES, FORMATS, archive_dir


def schedules() -> QuerySet[ReportSchedule]:
    return ReportSchedule.objects.select_related("department", "created_by").order_by(
        "-active", "report", "frequency", "pk"
    )


def schedule_get(pk: int) -> ReportSchedule:
    found = ReportSchedule.objects.filter(pk=pk).first()
    if found is None:
        raise NotFound("There is no such schedule.")
    return found


def runs(limit: int = 200) -> QuerySet[ReportRun]:
    return ReportRun.objects.select_related("schedule", "schedule__department").order_by(
        "-generated_at", "-pk"
    )[:limit]


@dataclass(frozen=True)
class ArchivedFile:
    name: str
    content_type: str
    data: bytes


def archived_file(pk: int, fmt: str) -> ArchivedFile:
    """A run's stored file, after checking its bytes still hash to what was recorded."""
    run = ReportRun.objects.filter(pk=pk).first()
    if run is None or fmt not in FORMATS or fmt not in run.files:
        raise NotFound("There is no such file in the reports archive.")
    entry = run.files[fmt]
    path = archive_dir() / f"{entry['sha256']}.{fmt}"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise Conflict(
            f"The archived file {entry['name']} is missing from the archive; "
            "tell the IT team (restore it from a backup)."
        ) from None
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise Conflict(
            f"The archived file {entry['name']} has been changed since it was made "
            "(its SHA-256 no longer matches), so it is not served. Tell the IT team."
        )
    return ArchivedFile(entry["name"], CONTENT_TYPES[fmt], data)


def archive_expected() -> dict[str, str]:
    """Every file the archive should hold: {file name: SHA-256}, from the runs' records
    (the document-store integrity check compares the disk with this)."""
    expected = {}
    for files in ReportRun.objects.exclude(files={}).values_list("files", flat=True):
        for fmt, item in (files or {}).items():
            expected[f"{item['sha256']}.{fmt}"] = item["sha256"]
    return expected
