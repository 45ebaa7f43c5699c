"""During a lockdown every page that changes something answers 423 Locked and changes
nothing, asked by a role that may use it; the emergency functions are not refused by the
lockdown; every page that only reads still opens, and every export is paused."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from ajeya.core.roles import AUTHENTICATED, PUBLIC, ROLE_PERMISSIONS, Role
from ajeya.defense import lockdown
from ajeya.defense.middleware import ALWAYS_OPEN
from ajeya.ledger.models import LedgerEntry
from ajeya.patients.models import Patient
from tests.conftest import enrolled_device
from tests.core.test_role_matrix import ALL_VIEWS, POST_ONLY, make_world, sample_kwargs
from tests.defense.test_lockdown_pages import logged_in

pytestmark = pytest.mark.django_db

JUNK = {"name": "Intruder", "reason": "testing the lockdown", "q": "x", "note": "testing"}
EXPORTS = {
    "reports:report_export",
    "reports:archive_file",
    "billing:collections_csv",
    "billing:collections_xlsx",
    "lab:tat_csv",
}
# Pages that write when opened, refused in a lockdown: two-factor setup starts enrolling
# an authenticator (a stolen password must not enrol a second one while IT cleans up); an
# inpatient's billing account is opened, and its pending charges posted, on first view.
WRITES_ON_OPENING = {"accounts:mfa_setup", "billing:stay", "billing:interim_pdf"}
# The defence pages stay open by design (the lockdown page, alerts, incidents): their own
# tests cover them; their writes are the defence app's records, which lockdown allows.
PAGES = [(name, view) for name, view in ALL_VIEWS if not name.startswith("defense:")]


def holder(requirement) -> Role | None:
    """Who asks for a page: anonymous for public pages, else a role that may use it."""
    if requirement == PUBLIC:
        return None
    if requirement == AUTHENTICATED:
        return Role.HOSPITAL_ADMIN  # the reports pages check more inside
    return next(role for role in Role if requirement in ROLE_PERMISSIONS[role])


def page_kwargs(name: str, world, user) -> dict:
    """The role matrix's sample arguments, and the public QR-code checks' (it walks only
    the pages a permission guards)."""
    if name == "lab:verify":
        return {"number": world.lab_report.number, "digest": "0" * 64}
    if name == "paper-verify":
        return {"subject_type": "patients.patient", "digest": "0" * 64,
                "subject_id": world.patient.uhid}  # fmt: skip
    return sample_kwargs(name, world, user)


def _changes() -> tuple[int, int]:
    others = LedgerEntry.objects.exclude(subject_type__startswith="defense.")
    return others.count(), Patient.objects.count()


@pytest.fixture
def locked_down(make_user):
    """One of everything, a member of staff of every role, then lockdown; each role's
    client logged in again (lockdown ended every session)."""
    world = make_world(make_user)
    people = {role: make_user(role, username=f"lock-{role}") for role in Role}
    for person in people.values():
        if person.mfa_required:
            enrolled_device(person)
    pages = []
    for name, view in PAGES:
        role = holder(view.required_permission)
        user = people[role] if role else people[Role.REGISTRATION_CLERK]
        if name.startswith("appointments:") and world.appointment is None:
            continue  # too late in the day for a bookable slot
        pages.append((name, role, reverse(name, kwargs=page_kwargs(name, world, user))))
    lockdown.lockdown_on(actor=None, reason="drill: every write path")
    clients = {role: logged_in(Client(), person) for role, person in people.items()}
    clients[None] = Client()
    return pages, clients


def test_every_write_path_is_refused(locked_down):
    pages, clients = locked_down
    emergency = set(settings.AJEYA_LOCKDOWN_EMERGENCY)
    before = _changes()
    refused = 0
    for name, role, url in pages:
        if name in ALWAYS_OPEN:
            continue  # logging in and out: tests of their own
        client = clients[role]
        if name in emergency:
            assert client.post(url, JUNK).status_code != 423, name
            continue
        for method in ("post", "put", "patch", "delete"):
            response = getattr(client, method)(url, JUNK)
            assert response.status_code == 423, (name, method, response.status_code)
        assert b"in lockdown" in response.content
        refused += 1
    assert _changes() == before
    assert refused > 100  # the walk did walk


def test_every_reading_page_still_opens_and_every_export_is_paused(locked_down):
    pages, clients = locked_down
    expected, answered = {}, {}
    for name, role, url in pages:
        if name in POST_ONLY or role is None or name == "patients:duplicates":
            continue
        response = clients[role].get(url)
        answered[name] = response.status_code
        expected[name] = 423 if name in EXPORTS | WRITES_ON_OPENING else 200
        if name in EXPORTS:
            assert b"Exports are paused" in response.content
    assert answered == expected
    assert answered.keys() >= EXPORTS


def test_the_emergency_set_names_real_pages():
    names = {name for name, _ in ALL_VIEWS}
    assert set(settings.AJEYA_LOCKDOWN_EMERGENCY) <= names
    assert set(settings.AJEYA_LOCKDOWN_PAUSED) <= names
    assert {"defense:lockdown", *ALWAYS_OPEN} <= names
