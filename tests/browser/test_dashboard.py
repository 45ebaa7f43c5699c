"""The dashboard in a real browser: the administrator signs in with two-factor, goes
from the home page to the dashboard and sees today's panels drawn as charts."""

from __future__ import annotations

import pytest

from ajeya.core.roles import Role
from tests.accounts.factories import TEST_PASSWORD, UserFactory
from tests.browser.conftest import log_in_enrolling
from tests.reports.test_dashboards import hospital  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_administrator_opens_the_dashboard_and_sees_the_charts(page, hospital):  # noqa: F811
    UserFactory(role=Role.HOSPITAL_ADMIN, username="admin-dash", full_name="Anil Admin")
    log_in_enrolling(page, "admin-dash", TEST_PASSWORD)

    page.goto("/")
    page.click("#dashboard-link")
    page.wait_for_url("**/reports/dashboard/")

    for key in ("opd", "beds", "lab", "collections", "resilience"):
        assert page.locator(f"#panel-{key}").is_visible()
    assert (
        "5 patients arrived: 1 by appointment, 4 walk-in."
        in page.locator("#opd-summary").inner_text()
    )
    opd_chart = page.locator("#panel-opd svg.chart").first
    assert opd_chart.is_visible()
    assert "10:00" in opd_chart.inner_html()
    assert page.locator("#panel-opd svg.chart").count() == 2
    assert page.locator("#panel-beds svg.chart").count() == 2
    assert "Ward W1 (W1)" in page.locator("#panel-beds svg.chart").first.inner_html()
    assert page.locator("#panel-lab svg.chart").count() == 3
    assert "UPI" in page.locator("#panel-collections svg.chart").first.inner_html()
    assert page.locator("#resilience-checks > li").count() == 5
    resilience = page.locator("#resilience-checks").inner_text()
    assert "Downtime snapshots:" in resilience
    assert "Ward W1 (W1): never written" in " ".join(resilience.split())
    assert "Last backup: never backed up" in resilience
    assert "Last verified restore: never drilled" in resilience
    assert "Open security alerts: none" in " ".join(resilience.split())
