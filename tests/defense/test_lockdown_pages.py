"""Lockdown through the HTTP stack: the page with its two-factor re-confirmation, two
people to switch off, the banner on every page, 423 for changes and exports, and the
emergency functions, login and logout still working."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from ajeya.core.roles import Role
from ajeya.defense import lockdown
from ajeya.defense.models import Lockdown
from ajeya.ledger.models import LedgerEntry
from ajeya.patients.models import Patient
from tests.accounts.factories import TEST_PASSWORD
from tests.defense.test_lockdown import REASON, code_now
from tests.patients.factories import PatientFactory, valid_details

pytestmark = pytest.mark.django_db

PAGE = "/defense/lockdown/"


def logged_in(client, user):
    """Log in as `user`, two-factor given, without enrolling (no write during lockdown)."""
    client.force_login(user)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is not None:
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
    return client


def test_it_switches_lockdown_on_with_a_fresh_code_and_is_logged_out(client, priya, clerk):
    from django.test import Client

    other = logged_in(Client(), clerk)
    logged_in(client, priya)
    page = client.get(PAGE)
    assert page.status_code == 200
    assert b"running normally" in page.content
    assert b"Switch lockdown on" in page.content
    wrong = client.post(PAGE, {"action": "on", "reason": REASON, "token": "12345"})
    assert wrong.status_code == 422
    short = client.post(PAGE, {"action": "on", "reason": "bad", "token": code_now(priya)})
    assert short.status_code == 422
    assert TOTPDevice.objects.get(user=priya).last_t == -1  # the code was not spent
    assert not Lockdown.objects.exists()

    done = client.post(PAGE, {"action": "on", "reason": REASON, "token": code_now(priya)})
    assert done.status_code == 302
    assert done["Location"] == "/accounts/login/?next=%2Fdefense%2Flockdown%2F"
    assert lockdown.active().started_by == priya
    assert Session.objects.count() == 0
    login = client.get(done["Location"])
    assert b"Every session has ended (2), yours too" in login.content
    assert b"by Priya Nair: read-only except emergency functions" in login.content
    assert other.get("/").status_code == 302  # the clerk's session has ended too


def test_switching_off_takes_a_second_person_with_their_own_code(client, priya, arun):
    lockdown.lockdown_on(actor=priya, reason=REASON)
    logged_in(client, priya)
    page = client.get(PAGE)
    assert b"Ask to switch off" in page.content
    asked = client.post(PAGE, {"action": "off_request", "note": "servers cleaned",
                               "token": code_now(priya)})  # fmt: skip
    assert asked.status_code == 302
    waiting = client.get(PAGE)
    assert b"A second person" in waiting.content
    assert b'id="lockdown-form"' not in waiting.content
    alone = client.post(PAGE, {"action": "off_confirm", "note": "confirming my own",
                               "token": code_now(priya)})  # fmt: skip
    assert alone.status_code == 422
    assert b"a second person must confirm" in alone.content
    assert lockdown.active() is not None

    logged_in(client, arun)
    assert b"Confirm switch off" in client.get(PAGE).content
    done = client.post(PAGE, {"action": "off_confirm", "note": "checked them myself",
                              "token": code_now(arun)})  # fmt: skip
    assert done.status_code == 302
    assert lockdown.active() is None
    history = client.get(done["Location"])
    assert b"Lockdown is off" in history.content
    assert b"servers cleaned" in history.content
    assert b"Arun Mehta" in history.content


def test_the_page_is_for_it_security_and_administrators(client_as):
    assert client_as(Role.DOCTOR).get(PAGE).status_code == 403
    assert client_as(Role.AUDITOR, username="aud").get(PAGE).status_code == 403


def test_an_unknown_step_is_refused(client, priya):
    logged_in(client, priya)
    assert client.post(PAGE, {"action": "explode"}).status_code == 400


def test_every_page_shows_the_banner_the_login_page_too(client, priya, clerk):
    lockdown.lockdown_on(actor=priya, reason=REASON)
    banner = b"by Priya Nair: read-only except emergency functions"
    assert banner in client.get(reverse("accounts:login")).content
    public = client.get(reverse("self_booking:start"))
    assert b"LOCKDOWN" not in public.content  # patients do not see staff names
    logged_in(client, clerk)
    assert banner in client.get("/").content
    assert banner in client.get(reverse("patients:search")).content


def test_changes_are_refused_with_423_and_nothing_changes(client, priya, clerk):
    patient = PatientFactory(actor=clerk)
    lockdown.lockdown_on(actor=priya, reason=REASON)
    logged_in(client, clerk)
    before = (Patient.objects.count(), LedgerEntry.objects.count())
    edit = reverse("patients:edit", args=[patient.uhid])
    response = client.post(edit, {**valid_details(name="Changed"), "reason": "typo fixed"})
    assert response.status_code == 423
    assert b"Nothing was changed" in response.content
    assert (Patient.objects.count(), LedgerEntry.objects.count()) == before
    assert client.get(edit).status_code == 200  # reading is allowed


def test_registration_is_an_emergency_function(client, priya, clerk):
    lockdown.lockdown_on(actor=priya, reason=REASON)
    logged_in(client, clerk)
    details = {**valid_details(), "date_of_birth": "1980-05-17", "confirm_new": "on"}
    response = client.post(reverse("patients:register"), details)
    assert response.status_code == 302, response.content[-800:]
    assert Patient.objects.filter(name="Ramesh Kumar").exists()


@pytest.mark.parametrize(
    ("name", "kwargs", "query"),
    [
        ("reports:report_export", {"slug": "opd-census", "fmt": "csv"}, ""),
        ("billing:collections_csv", {}, ""),
        ("lab:tat_csv", {}, ""),
        ("ledger:audit", {}, "?kind=changes&format=csv"),
        ("reports:archive_file", {"pk": 1, "fmt": "csv"}, ""),
    ],
)
def test_exports_are_paused(client, make_user, priya, name, kwargs, query):
    admin = make_user(Role.AUDITOR, username="audit-1")
    cashier = make_user(Role.BILLING_CLERK, username="cash-1")
    tech = make_user(Role.PATHOLOGIST, username="path-1")
    from tests.conftest import enrolled_device

    enrolled_device(admin)
    lockdown.lockdown_on(actor=priya, reason=REASON)
    who = {"billing": cashier, "lab": tech}.get(name.split(":")[0], admin)
    logged_in(client, who)
    response = client.get(reverse(name, kwargs=kwargs) + query)
    assert response.status_code == 423
    assert b"Exports are paused" in response.content


def test_searching_the_ledger_still_works(client, make_user, priya):
    from tests.conftest import enrolled_device

    auditor = make_user(Role.AUDITOR, username="audit-1")
    enrolled_device(auditor)
    lockdown.lockdown_on(actor=priya, reason=REASON)
    logged_in(client, auditor)
    assert client.get(reverse("ledger:audit") + "?kind=changes").status_code == 200


def test_login_two_factor_and_logout_work_during_lockdown(client, priya):
    lockdown.lockdown_on(actor=priya, reason=REASON)
    login = client.post(reverse("accounts:login"), {"username": "priya", "password": TEST_PASSWORD})
    assert login.status_code == 302
    verify = client.post(reverse("accounts:mfa_verify"), {"token": code_now(priya)})
    assert verify.status_code == 302
    assert client.get(PAGE).status_code == 200
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert client.get(PAGE).status_code == 302


def test_a_page_reads_the_state_once(client, clerk):
    logged_in(client, clerk)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("patients:search")).status_code == 200
    asked = [q for q in queries.captured_queries if "defense_lockdown" in q["sql"]]
    assert len(asked) == 1
