"""Incidents: opened from alerts (ledgered, numbered, alerts linked), updated with a
reason, refused when they make no sense; and their pages through the HTTP stack."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from ajeya.core.errors import Conflict, PermissionRefused, ValidationFailed
from ajeya.core.roles import Role
from ajeya.defense import incidents
from ajeya.defense.certin import IncidentKind
from ajeya.defense.models import Alert, Incident, IncidentStatus
from ajeya.ledger.models import AccessEntry, AccessKind, LedgerEntry
from tests.defense.incident_scene import OUTSIDE, T0, night, use_keys

pytestmark = pytest.mark.django_db

KIND = IncidentKind.UNAUTHORISED_ACCESS


@pytest.fixture
def scene(clock_at, settings, tmp_path):
    use_keys(settings, tmp_path)
    return night(clock_at)


@pytest.fixture
def security(make_user):
    return make_user(Role.IT_SECURITY, username="sec", full_name="Sunil Security")


def _open(actor, **overrides) -> Incident:
    details = {
        "title": "Password guessing from outside",
        "kind": KIND,
        "detected_at": T0 + dt.timedelta(minutes=30),
    }
    return incidents.incident_open(actor=actor, **{**details, **overrides})


def test_an_incident_opened_from_alerts_is_numbered_linked_and_ledgered(scene, security):
    incident = _open(security, alerts=[scene.alert])
    assert incident.number == "INC-2026-0001"
    # The default window: 24 hours before the earliest alert, to now.
    assert incident.window_start == T0 + dt.timedelta(minutes=20) - dt.timedelta(hours=24)
    assert incident.window_end == T0 + dt.timedelta(hours=1)
    assert Alert.objects.get(pk=scene.alert.pk).incident == incident
    opened = LedgerEntry.objects.get(subject_type="defense.incident")
    assert (opened.action, opened.subject_id, opened.actor_username) == (
        "create",
        incident.number,
        "sec",
    )
    linked = LedgerEntry.objects.filter(subject_type="defense.alert").order_by("-seq").first()
    assert linked.reason == "part of incident INC-2026-0001"
    assert (linked.before["incident_id"], linked.after["incident_id"]) == (None, incident.pk)
    assert _open(security).number == "INC-2026-0002"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"window_start": T0, "window_end": T0 - dt.timedelta(minutes=1)}, "window_end"),
        ({"kind": "Hacking"}, "kind"),
        ({"detected_at": T0 + dt.timedelta(hours=2)}, "detected_at"),
        ({"title": "  "}, "title"),
        ({"alerts": [99999]}, "alerts"),
    ],
)
def test_what_makes_no_sense_is_refused(scene, security, overrides, field):
    with pytest.raises(ValidationFailed) as refused:
        _open(security, **overrides)
    assert field in refused.value.errors
    assert not Incident.objects.exists()


def test_only_it_security_and_auditors_open_incidents(scene, make_user):
    with pytest.raises(PermissionRefused):
        _open(make_user(Role.DOCTOR, username="dr-x"))
    assert _open(make_user(Role.AUDITOR, username="aud")).number.startswith("INC-")


def test_an_alert_belongs_to_one_incident(scene, security):
    first = _open(security, alerts=[scene.alert])
    with pytest.raises(Conflict, match=f"already part of incident {first.number}"):
        _open(security, alerts=[scene.alert.pk])
    second = _open(security)
    with pytest.raises(Conflict):
        incidents.incident_link_alerts(actor=security, incident=second, alerts=[scene.alert])
    assert (
        incidents.incident_link_alerts(actor=security, incident=first, alerts=[scene.alert]) == []
    )


def test_updates_need_a_reason_and_are_ledgered(scene, security):
    incident = _open(security)
    with pytest.raises(ValidationFailed, match="at least"):
        incidents.incident_update(actor=security, incident=incident, reason="", summary="x")
    with pytest.raises(Conflict, match="Nothing changed"):
        incidents.incident_update(actor=security, incident=incident, reason="no change", summary="")
    with pytest.raises(ValidationFailed, match="cannot be changed"):
        incidents.incident_update(
            actor=security, incident=incident, reason="renumber", number="INC-1"
        )
    with pytest.raises(ValidationFailed, match="before the time of detection"):
        incidents.incident_update(
            actor=security, incident=incident, reason="sent early", reported_at=T0
        )
    updated = incidents.incident_update(
        actor=security,
        incident=incident,
        reason="contained by blocking the address",
        status=IncidentStatus.CONTAINED,
        actions_taken=f"Blocked {OUTSIDE} at the firewall",
        reported_at=T0 + dt.timedelta(minutes=55),
    )
    assert updated.status == IncidentStatus.CONTAINED
    entry = LedgerEntry.objects.filter(subject_type="defense.incident").order_by("-seq").first()
    assert (entry.action, entry.reason) == ("update", "contained by blocking the address")
    assert (entry.before["status"], entry.after["status"]) == ("open", "contained")


# -- the pages ---------------------------------------------------------------------------


def test_it_security_opens_an_incident_from_an_alert(scene, client_as):
    client = client_as(Role.IT_SECURITY)
    form = client.get(reverse("defense:incident_open") + f"?alerts={scene.alert.pk},x")
    assert form.status_code == 200
    assert b"Password guessing from 223.5.5.5" in form.content  # the title, pre-filled
    assert b'value="2026-11-29T02:20:00"' in form.content  # 24 h before the alert, IST
    posted = client.post(
        reverse("defense:incident_open"),
        {
            "title": "Password guessing",
            "kind": KIND,
            "detected_at": "2026-11-30T02:30",
            "alerts": [scene.alert.pk],
        },
    )
    assert posted["Location"] == reverse("defense:incident", args=["INC-2026-0001"])
    page = client.get(posted["Location"])
    assert page.status_code == 200
    assert b'id="certin-deadline" class="ok-text"' in page.content
    assert b"5 h 30 min left (due 30-11-2026 08:30 IST)" in page.content  # now 03:00
    assert b"223.5.5.5 (CN)" in page.content
    assert b"internal (LAN)" in page.content
    assert b'id="events-chart"' in page.content


def test_a_refused_incident_shows_the_form_again(scene, client_as):
    client = client_as(Role.IT_SECURITY)
    reply = client.post(
        reverse("defense:incident_open"),
        {
            "title": "Later",
            "kind": KIND,
            "detected_at": "2026-11-30T05:00",
            "window_start": "2026-11-30T02:00",
            "window_end": "2026-11-30T01:00",
        },
    )
    assert reply.status_code == 400
    assert b"The time of detection is in the future." in reply.content
    assert not Incident.objects.exists()


def test_the_timeline_filters_and_refuses_a_bad_address(scene, client_as):
    client = client_as(Role.IT_SECURITY)
    incident = _open(client.user, alerts=[scene.alert])
    url = reverse("defense:incident", args=[incident.number])
    only_outside = client.get(url, {"ip": OUTSIDE})
    assert b"mallory viewed patient" in only_outside.content
    assert b"alice viewed patient" not in only_outside.content
    bad = client.get(url, {"ip": "10.0.4", "patient": ""})
    assert b"10.0.4 is not an IP address." in bad.content


def test_an_incident_is_updated_from_its_page(scene, client_as):
    client = client_as(Role.IT_SECURITY)
    incident = _open(client.user)
    url = reverse("defense:incident_update", args=[incident.number])
    form = {
        "status": "contained",
        "reported_at": "2026-11-30T02:55:00",
        "summary": "",
        "systems_affected": "HIS web server",
        "actions_taken": "",
        "window_start": "2026-11-29T03:00:00",
        "window_end": "2026-11-30T03:00:00",
        "reason": "",
    }
    refused = client.post(url, form)
    assert refused.status_code == 400
    done = client.post(url, {**form, "reason": "reported to CERT-In by e-mail"})
    assert done.status_code == 302
    incident.refresh_from_db()
    assert (incident.status, incident.systems_affected) == ("contained", "HIS web server")
    entry = LedgerEntry.objects.filter(subject_type="defense.incident").order_by("-seq").first()
    assert set(entry.after) - {"seal"} >= {"status"}
    assert entry.before["window_start"] == entry.after["window_start"]  # unchanged: untouched
    page = client.get(reverse("defense:incident", args=[incident.number]))
    assert b"reported 30-11-2026 02:55 IST (on time)" in page.content


def test_the_cert_in_report_downloads_as_text_and_pdf(scene, client_as):
    client = client_as(Role.AUDITOR)
    incident = _open(client.user, alerts=[scene.alert])
    text = client.get(reverse("defense:certin_text", args=[incident.number]))
    assert text["Content-Type"] == "text/plain; charset=utf-8"
    assert "223.5.5.5 (CN)" in text.content.decode()
    pdf = client.get(reverse("defense:certin_pdf", args=[incident.number]))
    assert (pdf["Content-Type"], pdf.content[:4]) == ("application/pdf", b"%PDF")


def test_the_evidence_downloads_as_a_zip_and_records_the_export(scene, client_as):
    client = client_as(Role.IT_SECURITY)
    incident = _open(client.user, alerts=[scene.alert], window_start=T0 - dt.timedelta(hours=1))
    url = reverse("defense:incident_evidence", args=[incident.number])
    assert client.get(url).status_code == 405  # an export is a POST: it is recorded
    reply = client.post(url)
    assert reply["Content-Type"] == "application/zip"
    assert b"".join(reply.streaming_content)[:2] == b"PK"
    exported = AccessEntry.objects.filter(what=AccessKind.EXPORTED)
    rows = [(e.actor_username, e.patient_uhid) for e in exported]
    assert rows == [(client.user.username, scene.patient.uhid)]


def test_the_list_costs_the_same_however_many_incidents(
    scene, client_as, django_assert_max_num_queries
):
    client = client_as(Role.IT_SECURITY)
    for n in range(3):
        _open(client.user, title=f"Incident {n}")
    with django_assert_max_num_queries(12):
        page = client.get(reverse("defense:incidents"))
    assert page.content.count(b'">INC-2026-000') == 3


@pytest.mark.parametrize("name", ["incidents", "incident_open"])
def test_other_roles_are_refused(client_as, name):
    client = client_as(Role.DOCTOR)
    assert client.get(reverse(f"defense:{name}")).status_code == 403


def test_an_unknown_incident_is_not_found(client_as):
    client = client_as(Role.IT_SECURITY)
    assert client.get(reverse("defense:incident", args=["INC-1999-0001"])).status_code == 404
