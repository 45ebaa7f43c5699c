"""The IT/security desk's main path in a real browser: first login forces two-factor
enrolment, then a new staff account is created."""

from __future__ import annotations

import pytest

from ajeya.accounts.models import User
from ajeya.core.roles import Role
from tests.accounts.factories import TEST_PASSWORD
from tests.browser.conftest import code_for, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_security_enrols_two_factor_then_creates_an_account(page, make_user):
    make_user(Role.IT_SECURITY, username="itdesk", full_name="Priya Nair")
    log_in(page, "itdesk", TEST_PASSWORD)
    page.wait_for_url("**/two-factor/setup/**")
    assert page.locator(".qr svg").count() == 1
    secret = page.locator("code.secret").inner_text()
    page.fill("#id_token", code_for(secret))
    page.press("#id_token", "Enter")
    page.wait_for_url(lambda url: "two-factor" not in url)
    assert page.locator(".badge.ok").inner_text() == "2FA"

    page.get_by_role("link", name="Staff").first.click()
    page.get_by_role("link", name="New account").click()
    page.fill("#id_username", "drsen")
    page.fill("#id_full_name", "Dr. Amit Sen")
    page.select_option("#id_role", Role.DOCTOR)
    page.fill("#id_password", "short")
    page.press("#id_password", "Enter")
    page.wait_for_selector(".errors-box")
    assert "too short" in page.locator(".has-error").inner_text()
    assert page.input_value("#id_full_name") == "Dr. Amit Sen"

    page.fill("#id_password", TEST_PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_selector("text=Account drsen created.")
    assert User.objects.get(username="drsen").role == Role.DOCTOR
    assert "Dr. Amit Sen" in page.locator("table.list").inner_text()
