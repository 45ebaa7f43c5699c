"""The demo hospital's downtime: a kit made before last week's (pretend) outage, some of
its paper forms back-entered — one of them a patient who already had a UHID, waiting
for a reviewed merge — a spoiled form voided; and every location's snapshot passphrase.
"""

from __future__ import annotations

import datetime as dt
import random

from django.conf import settings

from ajeya.core import clock
from ajeya.downtime import numbers, services, snapshots
from ajeya.downtime.models import Kit, NumberKind, SnapshotKey

# DEMO ONLY: one passphrase for every location, printed by `ajeya demo`. A hospital
# gives each ward its own (`ajeya downtime keys --all`).
DEMO_PASSPHRASE = "DEMO-DOWN-TIME-WARD"  # noqa: S105 - printed for the demo, not a secret


def _staff(username: str):
    from ajeya.accounts.models import User

    return User.objects.get(username=username)


def seed_downtime(*, seed: int = 1) -> dict[str, int]:
    """Once per database: a later `ajeya seed` leaves the kit as it is."""
    from ajeya.patients.models import Patient
    from ajeya.patients.services import merge_request

    if Kit.objects.exists() or not Patient.objects.exists():
        return {"kits": Kit.objects.count(), "entries": 0}
    rng = random.Random(seed)
    now = clock.now()
    with clock.travel(now - dt.timedelta(days=6)):
        kit = services.kit_create(actor=_staff("admin"), department="MED", uhids=20,
                                  accessions=30, receipts=20)  # fmt: skip
    clerk, cashier = _staff("clerk"), _staff("cashier")
    outage = now - dt.timedelta(days=3)
    uhids = numbers.numbers(kit, NumberKind.UHID)
    existing = Patient.objects.order_by("pk")[rng.randrange(Patient.objects.count())]
    people = [
        {"name": "Ganga Prasad", "sex": "M", "date_of_birth": dt.date(1958, 3, 2)},
        {"name": "Rukhsana Begum", "sex": "F", "date_of_birth": dt.date(1991, 7, 19)},
        {"name": existing.name, "sex": existing.sex, "date_of_birth": existing.date_of_birth,
         "phone": existing.phone},  # registered on paper though they had a UHID
    ]  # fmt: skip
    for n, person in enumerate(people):
        services.backentry_register(
            actor=clerk, uhid=uhids[n], form_number=f"R-{n + 1}",
            written_at=outage + dt.timedelta(minutes=37 * n),
            details={"district": "South Delhi", "state": "DL", "pincode": "110029", **person},
        )  # fmt: skip
    paper = Patient.objects.get(uhid=uhids[2])
    reason = "Same name, birth date and phone; registered on paper in the outage"
    merge_request(actor=clerk, duplicate=paper, survivor=existing, reason=reason)
    receipt = numbers.numbers(kit, NumberKind.RECEIPT)[0]
    services.backentry_receipt(
        actor=cashier, receipt=receipt, form_number="C-1", written_at=outage,
        patient=Patient.objects.get(uhid=uhids[0]), amount="100.00", mode="cash",
        purpose="registration and consultation fee",
    )  # fmt: skip
    services.number_void(actor=_staff("admin"), kind=NumberKind.UHID, value=uhids[3],
                         reason="form spoiled (ink spill)")  # fmt: skip
    return {"kits": 1, "entries": len(people) + 1}


def demo_snapshots() -> tuple[int, str]:
    """Give every location without a passphrase the demo one, and write every file now
    (the worker then keeps them fresh): (files written, directory)."""
    for location in snapshots.all_locations():
        if not SnapshotKey.objects.filter(location=location.id).exists():
            snapshots.key_set(location.id, DEMO_PASSPHRASE)
    written = snapshots.write()
    return sum(1 for w in written if not w.error), str(settings.AJEYA_DOWNTIME_DIR)
