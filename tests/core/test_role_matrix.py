"""Every page declares the permission it needs, and every role is refused what it lacks:
a 403 page, and nothing in the database changed."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from ajeya.core.roles import AUTHENTICATED, PUBLIC, ROLE_PERMISSIONS, Perm, Role
from ajeya.ledger.models import LedgerEntry
from ajeya.patients.models import Patient
from tests.conftest import verified_client
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db

# Views that are not ours: Django's admin keeps its own staff-only checks.
FOREIGN_NAMESPACES = {"admin"}


def walk(patterns, namespace=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            if ns in FOREIGN_NAMESPACES:
                continue
            yield from walk(entry.url_patterns, f"{namespace}{ns}:" if ns else namespace)
        elif isinstance(entry, URLPattern):
            yield f"{namespace}{entry.name}", entry.callback


ALL_VIEWS = list(walk(get_resolver().url_patterns))


def test_every_page_declares_what_it_needs():
    undeclared = [name for name, view in ALL_VIEWS if not hasattr(view, "required_permission")]
    assert undeclared == []


def sample_kwargs(name: str, patient: Patient, user) -> dict:
    reverse_kwargs: dict = {}
    if name.startswith("patients:") and name not in {
        "patients:search",
        "patients:register",
        "patients:duplicates",
    }:
        reverse_kwargs = {"uhid": patient.uhid}
    if name.startswith("accounts:staff_") and name not in {
        "accounts:staff_list",
        "accounts:staff_create",
    }:
        reverse_kwargs = {"user_id": user.pk}
    return reverse_kwargs


PROTECTED = [
    (name, view.required_permission)
    for name, view in ALL_VIEWS
    if view.required_permission not in (PUBLIC, AUTHENTICATED)
]


@pytest.mark.parametrize("role", list(Role))
def test_each_role_is_refused_exactly_what_it_lacks(client, make_user, role):
    user = make_user(role, username=f"matrix-{role}")
    patient = PatientFactory()
    verified_client(client, user)
    allowed = ROLE_PERMISSIONS[role]
    checked = 0
    for name, perm in PROTECTED:
        url = reverse(name, kwargs=sample_kwargs(name, patient, user))
        if perm in allowed:
            if name in {"accounts:staff_unlock", "accounts:staff_reset_mfa"}:
                continue  # POST-only actions, tested in tests/accounts
            if name == "patients:duplicates":
                assert client.post(url, {"name": "x"}).status_code == 200
            else:
                assert client.get(url).status_code == 200, (role, name)
            continue
        before = (Patient.objects.count(), LedgerEntry.objects.count(), patient.version)
        get = client.get(url)
        post = client.post(url, {"name": "Intruder", "reason": "testing", "q": "x"})
        assert get.status_code == 403, (role, name, get.status_code)
        assert post.status_code in (403, 405), (role, name, post.status_code)
        assert b"Not allowed" in get.content
        patient.refresh_from_db()
        assert (Patient.objects.count(), LedgerEntry.objects.count(), patient.version) == before
        checked += 1
    assert checked == sum(1 for _, perm in PROTECTED if perm not in allowed)


def test_the_matrix_gives_every_permission_to_someone():
    held = set().union(*ROLE_PERMISSIONS.values())
    assert held == set(Perm)


def test_it_security_cannot_read_patient_records():
    # Least privilege: those who run the machines do not browse patients.
    assert Perm.PATIENT_VIEW not in ROLE_PERMISSIONS[Role.IT_SECURITY]


def test_anonymous_visitors_are_sent_to_login(client):
    patient = PatientFactory()
    for name, _ in PROTECTED:
        if name in {"accounts:staff_unlock", "accounts:staff_reset_mfa", "patients:duplicates"}:
            continue
        kwargs = sample_kwargs(name, patient, patient.registered_by)
        response = client.get(reverse(name, kwargs=kwargs))
        assert response.status_code == 302, name
        assert response["Location"].startswith("/accounts/login/")
