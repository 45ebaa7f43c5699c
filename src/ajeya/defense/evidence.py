"""An incident's evidence bundle: one zip file to hand to CERT-In, the police or an
auditor, checkable without Ajeya.

Inside the zip, one folder `<INC-number>-evidence-<UTC time>/` holding:
- `timeline.jsonl`: the window's events, one JSON object a line, with Timesketch's
  fields (message, datetime, timestamp_desc) and who, where and which patient;
- `indicators.stix.json`: a STIX 2.1 bundle (addresses, accounts, file hashes);
- `ledger-slice.json`: both ledger chains' entries in the window, every column that is
  hashed, one entry a line, continued up to a signed checkpoint;
- `checkpoint/<file>`: that signed checkpoint, copied as it is, and `ledger-public.pem`;
- `certin-report.txt`: the pre-filled CERT-In report;
- `README.txt`: how to check all of it;
- `manifest.json`: the SHA-256 of every other file (and `manifest.sig`, its Ed25519
  signature with the ledger's checkpoint key, when this server holds the key).
The patients named in the bundle get an "exported" access entry each.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
import zipfile
from pathlib import Path

import orjson
from django.conf import settings
from django.template.loader import render_to_string

from ajeya.core import clock
from ajeya.core.roles import Perm, require_perm
from ajeya.defense import certin, evidence_stix, timeline
from ajeya.defense.evidence_slice import write_slice
from ajeya.defense.models import Incident
from ajeya.ledger import checkpoints
from ajeya.ledger import services as ledger
from ajeya.ledger.models import AccessKind

FORMAT = "ajeya-evidence/1"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_timeline(folder: Path, incident: Incident) -> tuple[int, bool, set[str]]:
    events = timeline.timeline(
        incident.window_start, incident.window_end, limit=timeline.EXPORT_LIMIT
    )
    with (folder / "timeline.jsonl").open("wb") as handle:
        for event in events:
            handle.write(orjson.dumps(event.as_json()) + b"\n")
    return len(events), events.truncated, {e.patient for e in events if e.patient}


def _manifest(folder: Path, incident: Incident, made_by: str, notes: dict) -> None:
    files = {
        str(p.relative_to(folder)): _sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in ("manifest.json", "manifest.sig")
    }
    doc = {
        "format": FORMAT,
        "hospital_code": settings.AJEYA_HOSPITAL_CODE,
        "hospital_name": settings.AJEYA_HOSPITAL_NAME,
        "incident": incident.number,
        "window": {
            "start": incident.window_start.astimezone(dt.UTC),
            "end": incident.window_end.astimezone(dt.UTC),
        },
        "made_at": clock.now(),
        "made_by": made_by,
        **notes,
        "sha256": files,
    }
    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z)
    (folder / "manifest.json").write_bytes(data)
    if Path(settings.AJEYA_LEDGER_SIGNING_KEY).exists():
        import base64

        key = checkpoints.load_private_key()
        signature = base64.b64encode(key.sign(data)).decode("ascii")
        key_id = checkpoints.key_id(key.public_key())
        (folder / "manifest.sig").write_text(f"ed25519 {key_id} {signature}\n")


def write_bundle(incident: Incident, folder: Path, *, made_by: str = "") -> set[str]:
    """Write every file of the bundle into `folder`; return the UHIDs it names."""
    folder.mkdir(parents=True, exist_ok=True)
    count, truncated, patients = _write_timeline(folder, incident)
    found = certin.indicators(incident)
    (folder / "indicators.stix.json").write_text(
        evidence_stix.bundle(incident, found).serialize(pretty=True), encoding="utf-8"
    )
    sliced = write_slice(folder, incident.window_start, incident.window_end)
    patients |= sliced.patients
    (folder / "certin-report.txt").write_text(
        certin.report_text(certin.report(incident)), encoding="utf-8"
    )
    notes = {"timeline_events": count, "timeline_truncated": truncated, "ledger": sliced.summary}
    readme = render_to_string(
        "defense/incident_evidence_readme.txt", {"incident": incident, **notes}
    )
    (folder / "README.txt").write_text(readme, encoding="utf-8")
    _manifest(folder, incident, made_by, notes)
    return patients


def export(incident: Incident, directory: Path, *, actor=None) -> Path:
    """Write the bundle as `<directory>/<number>-evidence-<UTC time>.zip`; return its path.
    With an actor (a page), their permission is checked; the CLI exports as the server.
    The patients it names are recorded as exported, by whoever exported."""
    if actor is not None:
        require_perm(actor, Perm.DEFENSE_INCIDENTS)
    directory = Path(directory)
    name = f"{incident.number}-evidence-{clock.now():%Y%m%dT%H%M%SZ}"
    made_by = (actor.username if actor is not None else "") or "ajeya incident export"
    with tempfile.TemporaryDirectory(prefix="ajeya-evidence-") as scratch:
        folder = Path(scratch) / name
        patients = write_bundle(incident, folder, made_by=made_by)
        target = directory / f"{name}.zip"
        partial = directory / f".{name}.zip.part"
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, f"{name}/{path.relative_to(folder)}")
        partial.replace(target)
    ledger.patients_accessed(actor=actor, uhids=sorted(patients), what=AccessKind.EXPORTED)
    return target
