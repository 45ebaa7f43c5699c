"""The pages built on the ledger: a patient's history, the audit search, the dashboard."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from ajeya.core.roles import Role
from ajeya.ledger import checkpoints, verification
from ajeya.ledger.models import AccessEntry, AccessKind
from ajeya.patients import services
from tests.conftest import verified_client
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_every_patient_page_leaves_an_access_entry(clerk_client, clerk):
    patient = PatientFactory(actor=clerk, name="Kavita Joshi", phone="9811122334")
    clerk_client.get("/patients/", {"q": "kavita"})
    clerk_client.get(reverse("patients:detail", args=[patient.uhid]))
    clerk_client.get(reverse("patients:edit", args=[patient.uhid]))
    clerk_client.get(reverse("patients:slip", args=[patient.uhid]))
    kinds = list(
        AccessEntry.objects.filter(patient_uhid=patient.uhid)
        .order_by("seq")
        .values_list("what", "actor_username", "ip")
    )
    assert kinds == [
        (AccessKind.LISTED, clerk.username, "127.0.0.1"),
        (AccessKind.VIEWED, clerk.username, "127.0.0.1"),
        (AccessKind.EDIT_FORM, clerk.username, "127.0.0.1"),
        (AccessKind.PRINTED, clerk.username, "127.0.0.1"),
    ]


def test_a_refused_page_leaves_no_access_entry(client_as, clerk):
    patient = PatientFactory(actor=clerk)
    client = client_as(Role.IT_SECURITY)
    assert client.get(reverse("patients:detail", args=[patient.uhid])).status_code == 403
    assert not AccessEntry.objects.exists()


def test_who_has_seen_or_changed_this_patient(client, make_user, clerk, clerk_client):
    patient = PatientFactory(actor=clerk, name="Kavita Joshi")
    services.patient_update(
        actor=clerk, patient=patient, reason="as on voter ID", name="Kavita Joshee"
    )
    clerk_client.get(reverse("patients:detail", args=[patient.uhid]))
    auditor = make_user(Role.AUDITOR, username="aud1")
    verified_client(client, auditor)
    page = client.get(reverse("patients:history", args=[patient.uhid])).content.decode()
    assert "as on voter ID" in page
    assert "Kavita Joshi → Kavita Joshee" in page
    assert "Opened the record" in page
    assert clerk.username in page
    assert "Registration clerk" in page
    assert AccessEntry.objects.filter(what=AccessKind.HISTORY, actor_username="aud1").exists()


def test_the_history_also_shows_the_patients_allergies_and_merges(client, make_user, clerk):
    from tests.patients.factories import record_allergy

    patient = PatientFactory(actor=clerk, name="Kavita Joshi")
    other = PatientFactory(actor=clerk, name="Someone Else")
    doctor = make_user(Role.DOCTOR, username="dr-allergy")
    allergy = record_allergy(patient, actor=doctor, substance="Sulfonamides")
    services.allergy_remove(actor=doctor, allergy=allergy, reason="challenge test negative")
    record_allergy(other, actor=doctor, substance="Latex")  # another patient's: not shown
    services.merge_request(actor=clerk, duplicate=patient, survivor=other,
                           reason="same person, same phone")  # fmt: skip
    verified_client(client, make_user(Role.AUDITOR, username="aud2"))
    page = client.get(reverse("patients:history", args=[patient.uhid])).content.decode()
    assert "challenge test negative" in page
    assert "same person, same phone" in page
    assert page.count("<td>allergy</td>") == 2  # recorded, then removed
    assert "Latex" not in page


def test_audit_search_filters_and_exports(client, make_user, clerk, clerk_client):
    patient = PatientFactory(actor=clerk)
    other = PatientFactory(actor=clerk)
    clerk_client.get(reverse("patients:detail", args=[patient.uhid]))
    clerk_client.get(reverse("patients:detail", args=[other.uhid]))
    verified_client(client, make_user(Role.AUDITOR, username="aud1"))
    query = {"kind": "accesses", "username": clerk.username, "uhid": patient.uhid}
    page = client.get("/audit/", query).content.decode()
    assert "1 entry" in page
    assert f"patient {patient.uhid}" in page
    assert f"patient {other.uhid}" not in page

    export = client.get("/audit/", {**query, "format": "csv"})
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[0][:3] == ["seq", "recorded_at_ist", "user"]
    assert [r[5] for r in rows[1:]] == [f"patient {patient.uhid}"]

    changes = client.get("/audit/", {"kind": "changes", "action": "create"}).content.decode()
    assert f"patients.patient {other.uhid}" in changes


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"date_from": "2026-03-10", "date_to": "2026-03-01"}, "end date is before the start"),
        ({"date_from": "2020-01-01", "date_to": "2026-01-01"}, "at most 366 days"),
        ({"uhid": "12345"}, "A UHID is 12 digits"),
        ({"ip": "999.1.1.1"}, "valid IPv4 or IPv6"),
        ({"kind": "everything"}, "Select a valid choice"),
    ],
)
def test_bad_audit_queries_say_what_is_wrong(client_as, query, message):
    client = client_as(Role.AUDITOR)
    response = client.get("/audit/", {"kind": "changes", **query})
    assert response.status_code == 200
    assert message in response.content.decode()


def test_the_dashboard_shows_the_last_verification(client_as, clerk, keys):
    client = client_as(Role.HOSPITAL_ADMIN)
    assert "Never verified" in client.get("/").content.decode()
    checkpoints.create()
    assert " IST." in client.get("/").content.decode().split("Newest signed checkpoint")[1]
    report = verification.verify(use_checkpoint_dir=False)
    verification.save_run(report, trigger="cli", started_at=report_time())
    assert "Verified clean" in client.get("/").content.decode()


def report_time():
    from ajeya.core import clock

    return clock.now()
