"""Scheduled reports in a real browser: the administrator schedules the daily
collections report; the worker's round (run here) puts it in the archive, and the CSV
downloads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ajeya.reports import services
from ajeya.reports.models import ReportRun, ReportSchedule
from tests.accounts.factories import TEST_PASSWORD
from tests.billing import factories as f
from tests.browser.conftest import log_in_enrolling

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_administrator_schedules_the_daily_collections(page, clock_at, settings, tmp_path):
    settings.AJEYA_REPORTS_ARCHIVE_DIR = tmp_path / "reports-archive"
    clock_at(2026, 11, 27, 9, 0)
    f.supervisor("admin-mis")

    log_in_enrolling(page, "admin-mis", TEST_PASSWORD)

    page.goto("/reports/schedules/")
    page.select_option("#id_report", "collections")
    page.select_option("#id_frequency", "daily")
    page.click("#schedule-add")
    page.wait_for_selector(".messages .success")
    assert "Scheduled: Collections, daily" in page.locator(".messages").inner_text()
    schedule = ReportSchedule.objects.get()
    assert "Collections" in page.locator(f"#schedule-{schedule.pk}").inner_text()

    (run,) = services.run_due()  # the worker's round

    page.goto("/reports/archive/")
    row = page.locator(f"#run-{run.pk}")
    assert "26-11-2026" in row.inner_text()
    assert "Collections" in row.inner_text()
    with page.expect_download() as waiting:
        row.locator("a.download-csv").click()
    download = waiting.value
    assert download.suggested_filename == "collections-20261126-20261126.csv"
    data = Path(download.path()).read_bytes()
    assert hashlib.sha256(data).hexdigest() == run.files["csv"]["sha256"]
    assert "Collections, 26-11-2026" in data.decode("utf-8-sig")
    assert ReportRun.objects.count() == 1
