"""Downtime snapshots: per ward and per OPD department, one self-contained, encrypted
HTML file that opens in any browser on an offline PC (ARCHITECTURE §5).

The worker writes every location's file every few minutes (`AJEYA_DOWNTIME_MINUTES`)
into `AJEYA_DOWNTIME_DIR/<location>/`, a directory meant to be a synced share or pulled
by the ward PC; `ajeya downtime export` writes one by hand. A file is written under a
temporary name and renamed, so a PC copying it never gets half a file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from ajeya.core import clock
from ajeya.core.errors import NotFound, ValidationFailed
from ajeya.downtime import census, envelope
from ajeya.downtime.models import LocationKind, SnapshotKey, SnapshotState

Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class Location:
    kind: str
    code: str
    name: str

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.code}"

    @property
    def slug(self) -> str:
        return f"{self.kind}-{self.code}".lower()

    @property
    def title(self) -> str:
        noun = "Ward" if self.kind == LocationKind.WARD else "OPD"
        return f"{noun} {self.name} ({self.code})"


@dataclass
class Written:
    location: Location
    path: Path | None
    size: int = 0
    patients: int = 0
    error: str = ""


def all_locations() -> list[Location]:
    """Every active ward, and every department with an active OPD clinic."""
    from ajeya.appointments.models import Clinic
    from ajeya.ipd.models import Ward

    wards = Ward.objects.filter(is_active=True).order_by("code").values_list("code", "name")
    departments = (
        Clinic.objects.filter(is_active=True)
        .order_by("department__code")
        .values_list("department__code", "department__name")
        .distinct()
    )
    return [Location(LocationKind.WARD, code, name) for code, name in wards] + [
        Location(LocationKind.OPD, code, name) for code, name in departments
    ]


def find_location(*, ward: str = "", department: str = "") -> Location:
    wanted = (ward or department).strip().upper()
    kind = LocationKind.WARD if ward else LocationKind.OPD
    for location in all_locations():
        if location.kind == kind and location.code.upper() == wanted:
            return location
    noun = "active ward" if ward else "department with an active OPD clinic"
    raise NotFound(f"No {noun} with code {wanted!r}.")


# -- keys ---------------------------------------------------------------------------------


def key_set(location_id: str, passphrase: str) -> SnapshotKey:
    """Store the key `passphrase` derives for a location (replacing an older one)."""
    if len(envelope.normalise_passphrase(passphrase)) < 12:
        raise ValidationFailed({"passphrase": ["A passphrase has at least 12 letters or digits."]})
    salt = envelope.new_salt()
    key = envelope.derive_key(passphrase, salt)
    row, _ = SnapshotKey.objects.update_or_create(
        location=location_id,
        defaults={"salt": salt, "iterations": envelope.ITERATIONS, "key": key,
                  "made_at": clock.now()},
    )  # fmt: skip
    return row


def keys_make(wanted: Iterable[Location], *, rotate: bool = False) -> dict[str, str]:
    """A new passphrase for each location without one (all of them when rotating):
    {location id: passphrase}, shown once and never stored."""
    have = set(SnapshotKey.objects.values_list("location", flat=True))
    made = {}
    for location in wanted:
        if rotate or location.id not in have:
            made[location.id] = envelope.new_passphrase()
            key_set(location.id, made[location.id])
    return made


# -- rendering ------------------------------------------------------------------------------


def _inner(hospital: census.Hospital, location: Location, beds_html: str) -> tuple[str, int]:
    context = {
        "hospital": settings.AJEYA_HOSPITAL_NAME,
        "location": location,
        "made_at": hospital.made_at,
        "beds_html": mark_safe(beds_html),  # noqa: S308 - rendered by our own template
    }
    if location.kind == LocationKind.WARD:
        ward = hospital.wards.get(location.code) or census.WardCensus(
            location.code, location.name, ""
        )
        context["ward"] = ward
        return render_to_string("downtime/snapshot_ward.html", context), len(ward.inpatients)
    day = hospital.departments.get(location.code) or census.DepartmentDay(
        location.code, location.name
    )
    context["day"] = day
    return render_to_string("downtime/snapshot_opd.html", context), len(day.queue) + len(
        day.appointments
    )


def render(hospital: census.Hospital, location: Location, key: SnapshotKey, beds_html: str):
    """The file's text for one location, and how many patients it names."""
    inner, patients = _inner(hospital, location, beds_html)
    header, body = envelope.seal(
        inner,
        key=bytes(key.key),
        salt=bytes(key.salt),
        iterations=key.iterations,
        location=location.id,
        title=location.title,
        made_at=hospital.made_at.isoformat(),
        made_at_text=f"{clock.local(hospital.made_at):%d %b %Y %H:%M} IST",
    )
    document = render_to_string(
        "downtime/snapshot.html",
        {
            "header": header,
            "header_json": mark_safe(header.to_json().replace("<", "\\u003c")),  # noqa: S308
            "body": body,
            "hospital": settings.AJEYA_HOSPITAL_NAME,
            "stale_minutes": settings.AJEYA_DOWNTIME_STALE_MINUTES,
        },
    )
    return document, patients


def beds_html(hospital: census.Hospital) -> str:
    return render_to_string("downtime/_beds.html", {"beds": hospital.beds})


def _write_atomically(path: Path, text: str) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode()
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".writing-", suffix=".html")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o640)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return len(data)


def file_name(location: Location) -> str:
    return f"{location.slug}.html"


def write(
    only: Iterable[Location] | None = None,
    *,
    directory: Path | None = None,
    flat: bool = False,
    progress: Progress | None = None,
    hospital: census.Hospital | None = None,
) -> list[Written]:
    """Write the snapshot of every location (or `only` these) and record each outcome.
    A location without a key is skipped and named: its PC could not open the file."""
    with transaction.atomic():  # one consistent reading of the hospital
        hospital = hospital or census.hospital()
        wanted = list(only) if only is not None else all_locations()
    root = Path(directory or settings.AJEYA_DOWNTIME_DIR)
    keys = {k.location: k for k in SnapshotKey.objects.filter(location__in=[w.id for w in wanted])}
    beds = beds_html(hospital)
    out = []
    for done, location in enumerate(wanted):
        if progress:
            progress("Downtime snapshots", done, len(wanted))
        key = keys.get(location.id)
        if key is None:
            out.append(Written(location, None, error="no passphrase set: ajeya downtime keys"))
            continue
        document, patients = render(hospital, location, key, beds)
        path = root / file_name(location) if flat else root / location.slug / file_name(location)
        try:
            size = _write_atomically(path, document)
        except OSError as exc:
            out.append(Written(location, path, error=f"cannot write {path}: {exc.strerror}"))
            continue
        out.append(Written(location, path, size, patients))
    if progress:
        progress("Downtime snapshots", len(wanted), len(wanted))
    _record(out, hospital.made_at)
    return out


def _record(outcomes: list[Written], made_at) -> None:
    now = clock.now()
    for w in outcomes:
        fields = {"title": w.location.title, "tried_at": now, "error": w.error}
        if not w.error:
            fields.update(made_at=made_at, path=str(w.path), size=w.size, patients=w.patients)
        SnapshotState.objects.update_or_create(location=w.location.id, defaults=fields)


def export(location: Location, directory: Path, *, actor=None) -> list[Written]:
    """One location's file written by hand (a USB stick before planned maintenance):
    unlike the worker's copies, this one leaves the hospital's control, so every
    patient it names gets an "exported" access entry."""
    from ajeya.ledger.models import AccessKind
    from ajeya.ledger.services import patients_accessed

    with transaction.atomic():
        hospital = census.hospital()
    written = write([location], directory=directory, flat=True, hospital=hospital)
    if not written[0].error:
        patients_accessed(actor=actor, uhids=census.uhids(hospital, location.id),
                          what=AccessKind.EXPORTED)  # fmt: skip
    return written
