# ruff: noqa: F811 (the world fixtures are imported from test_clinical)
"""The reports pages over HTTP: the index shows only what a role may run, a report's page
with its table and chart, its CSV/XLSX/PDF, every refused input on the page (422) and
every refused role (403)."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from ajeya.core.roles import Perm, Role
from ajeya.reports import registry
from tests.opd import factories as visits
from tests.patients.factories import PatientFactory
from tests.reports.test_clinical import opd_world, surgeon  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

INDEX = reverse("reports:index")
OPD = reverse("reports:report", kwargs={"slug": "opd-census"})
WEEK = {"start": "2026-11-30", "end": "2026-12-06"}


def export(slug: str, fmt: str) -> str:
    return reverse("reports:report_export", kwargs={"slug": slug, "fmt": fmt})


@pytest.fixture
def admin(client_as):
    return client_as(Role.HOSPITAL_ADMIN, username="admin1", full_name="Anil Admin")


# -- the index --------------------------------------------------------------------------------


def test_the_index_lists_every_report_the_administrator_may_run(admin):
    page = admin.get(INDEX)
    assert page.status_code == 200
    text = page.content.decode()
    for report in registry.REPORTS.values():
        assert report.title in text
        assert reverse("reports:report", kwargs={"slug": report.slug}) in text
    assert "Hospital (MIS)" in text


def test_a_billing_clerk_sees_only_the_money_reports(client_as):
    text = client_as(Role.BILLING_CLERK).get(INDEX).content.decode()
    for report in registry.REPORTS.values():
        shown = reverse("reports:report", kwargs={"slug": report.slug}) in text
        assert shown == (report.perm == Perm.BILLING_REPORTS), report.slug
    assert "Daily OPD census" not in text


@pytest.mark.parametrize("role", [Role.DOCTOR, Role.NURSE, Role.IT_SECURITY])
def test_a_role_without_any_report_is_refused_the_index(client_as, role):
    page = client_as(role).get(INDEX)
    assert page.status_code == 403


def test_anonymous_visitors_go_to_login(client):
    for url in (INDEX, OPD, export("opd-census", "csv")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_the_nav_links_to_reports_for_those_who_may_run_some(admin):
    assert f'href="{INDEX}"' in admin.get(OPD).content.decode()


# -- a report's page ----------------------------------------------------------------------------


def test_the_opd_census_page_shows_the_table_chart_and_exports(admin, opd_world):
    page = admin.get(OPD, WEEK)
    assert page.status_code == 200
    text = page.content.decode()
    assert "30-11-2026 to 06-12-2026" in text
    assert "<svg" in text
    assert "Department SURG" in text
    assert '<th style="text-align:right;white-space:nowrap">6</th>' in text  # the total
    query = "start=2026-11-30&amp;end=2026-12-06"
    for fmt in ("csv", "xlsx", "pdf"):
        assert f"{export('opd-census', fmt)}?{query}" in text


def test_the_department_filter_and_its_select(admin, opd_world):
    text = admin.get(OPD, {**WEEK, "department": "surg"}).content.decode()
    assert '<option value="SURG" selected>' in text
    assert "Department MED" not in text.split("<table", 1)[1]


def test_without_a_period_the_page_shows_the_last_week(admin, clock_at):
    clock_at(2026, 12, 6, 9, 0)
    text = admin.get(OPD).content.decode()
    assert "30-11-2026 to 06-12-2026" in text
    assert 'value="2026-11-30"' in text


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (
            {"start": "2026-12-06", "end": "2026-11-30"},
            "end",
            "The last day (30-11-2026) is before the first (06-12-2026).",
        ),
        (
            {"start": "2026-01-01", "end": "2026-12-06"},
            "start",
            "Choose at most 92 days; 01-01-2026 to 06-12-2026 is 340 days.",
        ),
        ({"start": "tomorrow", "end": "2026-12-06"}, "start", "&#x27;tomorrow&#x27; is not a date"),
        ({**WEEK, "department": "XYZ"}, "department", "There is no department &#x27;XYZ&#x27;."),
    ],
)
def test_bad_input_is_shown_on_the_page(admin, query, field, message):
    page = admin.get(OPD, query)
    assert page.status_code == 422
    text = page.content.decode()
    assert f'data-field="{field}"' in text
    assert message in text
    assert "<svg" not in text
    assert "Download CSV" not in text


def test_a_bad_date_and_an_unknown_department_are_both_named(admin):
    text = admin.get(OPD, {"start": "x", "department": "nope"}).content.decode()
    assert 'data-field="start"' in text
    assert 'data-field="department"' in text


def test_an_unknown_report_is_not_found(admin):
    assert admin.get(reverse("reports:report", kwargs={"slug": "nonsense"})).status_code == 404
    assert admin.get(export("nonsense", "csv")).status_code == 404
    assert admin.get(export("opd-census", "docx")).status_code == 404


@pytest.mark.parametrize(
    "slug", ["opd-census", "ipd-census", "doctor-consultations", "scheme-patients", "lab-workload"]
)
def test_a_billing_clerk_is_refused_the_clinical_reports(client_as, slug):
    clerk = client_as(Role.BILLING_CLERK)
    page = clerk.get(reverse("reports:report", kwargs={"slug": slug}), WEEK)
    assert page.status_code == 403
    assert b"Not allowed" in page.content
    for fmt in ("csv", "xlsx", "pdf"):
        assert clerk.get(export(slug, fmt), WEEK).status_code == 403


def test_an_auditor_may_run_the_clinical_reports(client_as):
    auditor = client_as(Role.AUDITOR)
    for slug in ("opd-census", "ipd-census", "lab-workload"):
        assert (
            auditor.get(reverse("reports:report", kwargs={"slug": slug}), WEEK).status_code == 200
        )


def test_every_report_page_opens_for_the_administrator(admin):
    for report in registry.REPORTS.values():
        url = reverse("reports:report", kwargs={"slug": report.slug})
        assert admin.get(url, WEEK).status_code == 200, report.slug


# -- exports --------------------------------------------------------------------------------------


def test_the_csv_holds_the_numbers(admin, opd_world):
    response = admin.get(export("opd-census", "csv"), WEEK)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="opd-census-2026-11-30-2026-12-06.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["Daily OPD census"]
    assert ["Period: 30-11-2026 to 06-12-2026 (IST)"] in rows
    assert ["30-11-2026", "Department MED", "4", "1", "3", "1", "1"] in rows
    assert ["Total", "", "6", "1", "5", "3", "1"] in rows


def test_the_xlsx_holds_the_numbers(admin, opd_world):
    response = admin.get(export("opd-census", "xlsx"), {**WEEK, "department": "SURG"})
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "opd-census-2026-11-30-2026-12-06.xlsx" in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = [[c for c in r if c not in (None, "")] for r in sheet.iter_rows(values_only=True)]
    assert ["Department: Department SURG"] in values
    assert ["Total", 1, 0, 1, 1, 0] in values


def test_the_pdf_is_a_pdf(admin, opd_world):
    response = admin.get(export("opd-census", "pdf"), WEEK)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="opd-census-2026-11-30-2026-12-06.pdf"' in response["Content-Disposition"]
    assert response.content.startswith(b"%PDF")


def test_an_export_of_a_bad_period_is_refused_with_its_message(admin):
    response = admin.get(export("opd-census", "csv"), {"start": "2026-12-06", "end": "2026-11-30"})
    assert response.status_code == 422
    assert b"is before the first" in response.content


# -- query counts ----------------------------------------------------------------------------------


def page_queries(client) -> int:
    """Once the OPD's closed days are counted (as the worker keeps them)."""
    client.get(OPD, WEEK)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(OPD, WEEK).status_code == 200
    return len(captured)


def test_the_page_makes_as_many_queries_for_more_data(admin, opd_world, clock_at, clerk, clinic):
    small = page_queries(admin)
    clock_at(2026, 12, 2, 8, 0)
    for _ in range(5):
        visits.checked_in(clerk, clinic, PatientFactory())
    assert page_queries(admin) == small
