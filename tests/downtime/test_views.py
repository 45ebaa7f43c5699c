"""The downtime pages through the HTTP stack: status and kits, a kit's reconciliation and
its forms, back-entry pages that re-render every refusal with what was typed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ajeya.core import clock
from ajeya.core.roles import Role
from ajeya.downtime import numbers, services, snapshots
from ajeya.downtime.models import Kit, KitVoid, NumberKind, SnapshotState
from ajeya.patients.models import Patient
from ajeya.reports.dashboards import resilience
from tests.appointments import factories as schedule
from tests.patients.factories import valid_details


@pytest.fixture
def kit(db, make_user, monday_morning):
    schedule.department("MED")
    return services.kit_create(actor=None, department="MED", uhids=2, receipts=1, system=True)


def test_an_administrator_makes_prints_and_voids(client_as, kit):
    client = client_as(Role.HOSPITAL_ADMIN)
    index = client.get(reverse("downtime:index"))
    assert index.status_code == 200
    assert kit.number.encode() in index.content
    create = reverse("downtime:kit_create")
    bad = client.post(create, {"department": "MED", "uhids": 0, "accessions": 0, "receipts": 0})
    assert bad.status_code == 400
    assert b"at least one UHID" in bad.content
    made = client.post(create, {"department": "MED", "uhids": 5, "accessions": 0, "receipts": 0})
    new = Kit.objects.order_by("-pk").first()
    assert made["Location"] == reverse("downtime:kit", args=[new.number])
    page = client.get(made["Location"])
    assert b"<svg" in page.content  # the reconciliation chart
    pdf = client.get(reverse("downtime:kit_pdf", args=[new.number]))
    assert (pdf["Content-Type"], pdf.content[:4]) == ("application/pdf", b"%PDF")
    uhid = numbers.numbers(new, NumberKind.UHID)[0]
    void_url = reverse("downtime:kit_void", args=[new.number])
    no_reason = client.post(void_url, {"kind": "uhid", "value": uhid, "reason": ""})
    assert no_reason.status_code == 400
    assert uhid.encode() in no_reason.content  # what was typed is still there
    client.post(void_url, {"kind": "uhid", "value": uhid, "reason": "torn"})
    assert KitVoid.objects.get().value == uhid
    again = client.post(void_url, {"kind": "uhid", "value": uhid, "reason": "torn"})
    assert b"was voided on" in again.content


def test_registration_back_entry_keeps_the_form_on_refusal(client_as, kit, clock_at):
    clock_at(2026, 11, 30, 12, 0)  # the system is back at noon
    client = client_as(Role.REGISTRATION_CLERK)
    url = reverse("downtime:backentry_register")
    assert client.get(url).status_code == 200
    uhid = numbers.numbers(kit, NumberKind.UHID)[0]
    written = "2026-11-30T10:05"  # on paper, during the outage
    form = {**valid_details(name="Paper Kamla"), "date_of_birth": "1980-05-17",
            "form_number": "12", "written_at": written}  # fmt: skip
    outside = client.post(url, {**form, "uhid": "100 0000 9999 1"})
    assert outside.status_code == 400
    assert b"Paper Kamla" in outside.content
    assert b"not in any downtime kit" in outside.content or b"is not a UHID" in outside.content
    done = client.post(url, {**form, "uhid": uhid})
    assert done.status_code == 200, done.context["form"].errors
    assert Patient.objects.get(uhid=uhid).name == "Paper Kamla"
    assert b"Registered" in done.content
    twice = client.post(url, {**form, "uhid": uhid})
    assert b"already entered" in twice.content


def test_back_entry_pages_belong_to_their_desks(client_as, kit):
    nurse = client_as(Role.NURSE)
    for name in ("backentry_register", "backentry_sample", "backentry_receipt", "index"):
        assert nurse.get(reverse(f"downtime:{name}")).status_code == 403


def test_the_dashboard_shows_each_wards_snapshot_age_and_reds_the_old(db, clinic, clock_at):
    from tests.ipd import factories as wards

    wards.ward("W1")
    wards.ward("W2")
    for location in snapshots.all_locations():
        snapshots.key_set(location.id, "DASHBOARD-TEST-PASS")
    clock_at(2026, 11, 30, 8, 0)
    snapshots.write()
    clock_at(2026, 11, 30, 8, 20)  # 20 minutes on: over the 15-minute limit
    snapshots.write([snapshots.find_location(ward="W2")])
    check = next(c for c in resilience(clock.today()).checks if c.title == "Downtime snapshots")
    lines = {d.title: d for d in check.details}
    assert check.ok is False
    assert "2 of 3 locations OLD" in check.text
    assert lines["Ward Ward W1 (W1)"].ok is False
    assert lines["Ward Ward W1 (W1)"].text.startswith("20 min old")
    assert lines["Ward Ward W2 (W2)"].ok is True
    assert SnapshotState.objects.count() == 3


def test_an_unknown_kit_is_named(client_as, kit):
    client = client_as(Role.HOSPITAL_ADMIN)
    page = client.get(reverse("downtime:kit", args=["K9999999"]))
    assert page.status_code == 404
    assert b"No downtime kit K9999999" in page.content
