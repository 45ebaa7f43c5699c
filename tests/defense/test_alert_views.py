"""The IT/security desk's alert pages and the administrators' banner, through HTTP."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ajeya.core import clock
from ajeya.core.roles import Role
from ajeya.defense import services
from ajeya.defense.models import Alert, AlertStatus, Canary, Rule, Severity
from ajeya.reports.dashboards import resilience
from tests.patients.factories import PatientFactory

pytestmark = pytest.mark.django_db


def _critical(key: str = "canary:x:dr") -> Alert:
    return services.alert_raise(
        rule=Rule.CANARY, severity=Severity.CRITICAL, key=key,
        title="dr-nosy viewed canary record 100000000019", occurred_at=clock.now(),
        actor_username="dr-nosy", ip="223.5.5.5", evidence={"first": {"seq": 7}},
    )  # fmt: skip


def test_it_security_sees_acknowledges_and_resolves(client_as):
    alert = _critical()
    client = client_as(Role.IT_SECURITY)
    listing = client.get(reverse("defense:alerts"))
    assert listing.status_code == 200
    assert b"dr-nosy viewed canary record" in listing.content
    assert b"<svg" in listing.content
    page = reverse("defense:alert", args=[alert.pk])
    assert b"&quot;seq&quot;: 7" in client.get(page).content
    short = client.post(page, {"action": "resolve", "note": "ok"})
    assert short.status_code == 422
    assert b"at least" in short.content
    client.post(page, {"action": "acknowledge", "note": "calling the ward in charge"})
    client.post(page, {"action": "resolve", "note": "training login; account reset"})
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    assert "calling the ward in charge" in alert.notes
    assert b"No alerts here" in client.get(reverse("defense:alerts")).content


def test_the_banner_is_for_administrators_while_a_critical_alert_is_open(client_as):
    _critical()
    admin = client_as(Role.HOSPITAL_ADMIN, username="admin-banner")
    assert b"1 critical security alert open" in admin.get("/").content
    clerk = client_as(Role.REGISTRATION_CLERK, username="clerk-banner")
    assert b"critical security alert" not in clerk.get("/").content


def test_the_dashboard_line_counts_unresolved_alerts(db):
    line = next(c for c in resilience(clock.today()).checks if c.title == "Open security alerts")
    assert (line.text, line.ok) == ("none", True)
    _critical()
    line = next(c for c in resilience(clock.today()).checks if c.title == "Open security alerts")
    assert (line.text, line.ok) == ("1 critical", False)


def test_canaries_are_marked_by_uhid(client_as):
    decoy = PatientFactory(name="Decoy Person")
    client = client_as(Role.IT_SECURITY)
    url = reverse("defense:canaries")
    missing = client.post(url, {"uhid": "100 0000 9999 1", "note": ""})
    assert missing.status_code == 422
    assert b"No patient has UHID" in missing.content
    client.post(url, {"uhid": decoy.uhid, "note": "ward 4 decoy"})
    assert Canary.objects.get().patient == decoy
    again = client.post(url, {"uhid": decoy.uhid, "note": ""})
    assert b"is a canary already" in again.content


def test_other_roles_cannot_see_alerts(client_as):
    for role in (Role.HOSPITAL_ADMIN, Role.AUDITOR, Role.DOCTOR):
        client = client_as(role, username=f"no-{role}")
        assert client.get(reverse("defense:alerts")).status_code == 403
