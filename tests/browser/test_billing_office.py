"""The billing back office in a real browser: the administrator approves a refund that
waits for a second person, and a cashier closes the day at the counter."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ajeya.billing import services
from ajeya.billing.models import ApprovalStatus, DayClose, Payment, PaymentKind
from tests.accounts.factories import TEST_PASSWORD
from tests.billing import factories as f
from tests.browser.conftest import log_in, log_in_enrolling
from tests.patients.factories import PatientFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def morning(clock_at):
    return clock_at(2026, 11, 27, 9, 0)


def deposit(clerk, amount: str):
    account = services.account_for(patient=PatientFactory(name="Sunil Kumar"))
    return services.payment_receive(
        actor=clerk, account=account, counter=f.counter(), amount=amount, mode="cash",
        kind=PaymentKind.DEPOSIT,
    )  # fmt: skip


def test_administrator_approves_a_refund(page, morning, settings):
    settings.AJEYA_BILLING_APPROVAL_LIMIT = Decimal("1000")
    clerk = f.cashier()
    paid = deposit(clerk, "5000")
    refund = services.refund_request(
        actor=clerk, account=paid.account, counter=f.counter(), amount="4000", mode="cash",
        reason="surgery postponed",
    )  # fmt: skip
    assert refund.status == ApprovalStatus.AWAITING
    f.supervisor("admin-accounts")

    log_in_enrolling(page, "admin-accounts", TEST_PASSWORD)

    page.goto("/billing/approvals/")
    row = page.locator(f"#refund-{refund.pk}")
    assert "Sunil Kumar" in row.inner_text()
    assert "₹4,000.00" in row.inner_text()
    row.locator("button.approve").click()
    page.wait_for_selector(".messages .success")
    message = page.locator(".messages").inner_text()
    refund.refresh_from_db()
    assert refund.status == ApprovalStatus.DONE
    assert f"voucher {refund.number}" in message
    assert "No refund is waiting." in page.locator("#refunds").inner_text()


def test_cashier_closes_the_day(page, morning):
    clerk = f.cashier()
    deposit(clerk, "1500")
    log_in(page, clerk.username, TEST_PASSWORD)

    page.goto("/billing/day-close/")
    cash = page.locator('#expected tr[data-mode="cash"]')
    assert "₹1,500.00" in cash.locator(".expected").inner_text()
    page.fill("#id_cash", "1,490")
    page.fill("#id_note", "₹10 short: change")
    page.click("#close-day")
    page.wait_for_selector("#already-closed")
    assert "differences Cash -₹10.00" in page.locator(".messages").inner_text()
    past = page.locator("#past-closes").inner_text()
    assert "-₹10.00" in past
    assert "₹10 short: change" in past
    close = DayClose.objects.get(cashier=clerk)
    cash_line = close.lines.get(mode="cash")
    assert (cash_line.counted, cash_line.difference) == (Decimal("1490.00"), Decimal("-10.00"))
    assert Payment.objects.count() == 1
