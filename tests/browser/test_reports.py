"""Reports in a real browser: the administrator opens Reports, runs the OPD census for a
week, sees the table and the chart, and downloads the spreadsheet."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import load_workbook

from ajeya.core.roles import Role
from tests.accounts.factories import TEST_PASSWORD, UserFactory
from tests.browser.conftest import log_in_enrolling
from tests.reports.test_clinical import opd_world, surgeon  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_administrator_runs_the_opd_census_and_downloads_it(page, opd_world):  # noqa: F811
    UserFactory(role=Role.HOSPITAL_ADMIN, username="admin-mis", full_name="Anil Admin")
    log_in_enrolling(page, "admin-mis", TEST_PASSWORD)

    page.click("header nav >> text=Reports")
    page.click("#report-opd-census")
    page.fill("#id_start", "2026-11-30")
    page.fill("#id_end", "2026-12-06")
    page.click("#report-show")
    page.wait_for_url("**start=2026-11-30**")

    assert "30-11-2026 to 06-12-2026" in page.locator("#report-period").inner_text()
    table = page.locator("#table-1")
    assert "Department SURG" in table.inner_text()
    assert page.locator("#table-1 tfoot").inner_text().split() == ["Total", "6", "1", "5", "3", "1"]
    assert page.locator("svg.chart rect").count() == 2
    assert page.locator("svg.chart").is_visible()

    with page.expect_download() as waiting:
        page.click("#export-xlsx")
    download = waiting.value
    assert download.suggested_filename == "opd-census-2026-11-30-2026-12-06.xlsx"
    sheet = load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
    rows = [[c for c in r if c not in (None, "")] for r in sheet.iter_rows(values_only=True)]
    assert ["Total", 6, 1, 5, 3, 1] in rows
