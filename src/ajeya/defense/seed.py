"""The demo hospital's defence: two canary patients nobody should open, yesterday's
password guessing from abroad (caught, made an incident, handled and resolved), and an
administrator's login at 02:10 last night, still open for the IT desk to look at."""

from __future__ import annotations

import datetime as dt

from ajeya.core import clock
from ajeya.defense import services, watch
from ajeya.defense.models import Alert, Canary

DECOYS = (
    {"name": "Meenakshi Raghavan", "sex": "F", "date_of_birth": dt.date(1967, 2, 11)},
    {"name": "Harbans Lal Gill", "sex": "M", "date_of_birth": dt.date(1949, 9, 23)},
)


def _staff(username: str):
    from ajeya.accounts.models import User

    return User.objects.get(username=username)


def seed_defense() -> dict[str, int]:
    """Once per database. Each time, the seed's own bulk writes are marked as read, so
    the worker's first round does not take them for an intrusion."""
    if Canary.objects.exists():
        watch.skip_history()
        return {"canaries": Canary.objects.count(), "alerts": Alert.objects.count()}
    from axes.models import AccessFailureLog, AccessLog

    from ajeya.patients.services import patient_register

    clerk = _staff("clerk")
    for decoy in DECOYS:
        patient = patient_register(actor=clerk, district="South Delhi", state="DL",
                                   pincode="110029", **decoy)  # fmt: skip
        services.canary_add(actor=None, patient=patient, note="demo decoy", system=True)
    watch.skip_history()  # the seed so far is bulk history, not an intrusion
    yesterday = clock.now() - dt.timedelta(days=1)
    for n in range(12):
        row = AccessFailureLog.objects.create(
            username=("admin", "itsec", "doctor")[n % 3], ip_address="223.5.5.5",
            user_agent="python-requests/2.31", path_info="/accounts/login/",
            locked_out=False,
        )  # fmt: skip
        AccessFailureLog.objects.filter(pk=row.pk).update(
            attempt_time=yesterday + dt.timedelta(seconds=20 * n)
        )
    with clock.travel(yesterday + dt.timedelta(minutes=5)):
        watch.run_rules()
    guessing = Alert.objects.get(rule="brute_force")
    itsec = _staff("itsec")
    services.alert_acknowledge(
        actor=itsec, alert=guessing, note="Blocked 223.5.5.5 at the firewall"
    )
    from ajeya.defense.certin import IncidentKind
    from ajeya.defense.incidents import incident_open

    incident_open(
        actor=itsec, title="Password guessing from 223.5.5.5", kind=IncidentKind.SCANNING,
        detected_at=guessing.raised_at, alerts=[guessing],
        summary="12 failed logins on admin, itsec and doctor within 4 minutes; blocked.",
    )  # fmt: skip
    done = "No login succeeded; accounts unlocked after password checks"
    services.alert_resolve(actor=itsec, alert=guessing, note=done)
    night = clock.local(clock.now()).replace(hour=2, minute=10, second=0, microsecond=0)
    if night > clock.now():
        night -= dt.timedelta(days=1)
    row = AccessLog.objects.create(username="admin", ip_address="10.10.4.21",
                                   user_agent="Firefox", path_info="/accounts/login/")  # fmt: skip
    AccessLog.objects.filter(pk=row.pk).update(attempt_time=night)
    watch.run_rules()
    return {"canaries": len(DECOYS), "alerts": Alert.objects.count()}
