"""The ledger slice of an evidence bundle, and its check.

Both chains' entries recorded in the incident's window, each with every column its hash
covers (`ledger.services`: SHA-256 of prev_hash ‖ header ‖ 0x1E ‖ payload, the header
being the `header_columns` joined by 0x1F), continued up to a signed checkpoint: the
checkpoint's signed head hash depends on every entry before it, so entries that chain
to it cannot have been changed since it was signed."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from django.conf import settings
from django.db.models import Max, Min

from ajeya.ledger import checkpoints
from ajeya.ledger import services as ledger

FORMAT = "ajeya-ledger-slice/1"
CHAINS = {"changes": ledger.CHANGES, "accesses": ledger.ACCESSES}
HASH_RULE = (
    "hash = SHA-256(prev_hash + header + 0x1E + payload), all UTF-8; header = the "
    "header_columns' values joined by 0x1F, an empty value for null, integers in decimal, "
    "recorded_at as written here (UTC). The first entry's prev_hash is the hash of the "
    "entry before the slice; the entry at the checkpoint's seq must have the signed hash."
)


@dataclass
class Sliced:
    summary: dict = field(default_factory=dict)
    patients: set[str] = field(default_factory=set)


def _bounds(chain: ledger.Chain, start: dt.datetime, end: dt.datetime) -> tuple | None:
    in_window = chain.model.objects.filter(
        recorded_at__gte=start, recorded_at__lt=end + dt.timedelta(microseconds=1)
    )  # before end + 1 µs, as timeline._window says why
    span = in_window.aggregate(lo=Min("seq"), hi=Max("seq"))
    return (span["lo"], span["hi"]) if span["lo"] is not None else None


def _covers(c: checkpoints.Checkpoint, bounds: dict) -> bool:
    return all(c.doc[name]["seq"] >= (b[1] if b else 0) for name, b in bounds.items())


def _checkpoint(bounds: dict) -> tuple[checkpoints.Checkpoint | None, Path | None, str]:
    """The oldest validly signed checkpoint at or past the slice's end in both chains
    (the fewest entries to bridge); else one signed now if this server holds the key;
    else the newest there is. Returns (checkpoint, its file, a note for the reader)."""
    directory = Path(settings.AJEYA_CHECKPOINT_DIR)
    try:
        found, _ = checkpoints.load_all(directory)
    except checkpoints.CheckpointError as exc:
        return None, None, exc.message
    valid = [c for c in found if c.signature_valid]
    covering = [c for c in valid if _covers(c, bounds)]
    if covering:
        return covering[0], directory / covering[0].name, ""
    note = "no signed checkpoint covers the window's end yet"
    if Path(settings.AJEYA_LEDGER_SIGNING_KEY).exists():
        try:
            made, path = checkpoints.create(directory)
            return made, path, "checkpoint signed for this export"
        except checkpoints.CheckpointError as exc:
            note = f"{note}; signing one failed: {exc.message}"
    if valid:
        return valid[-1], directory / valid[-1].name, note
    return None, None, note + "; no signed checkpoint at all"


def _entry_lines(chain: ledger.Chain, lo: int, hi: int, patients: set[str]):
    columns = (*chain.columns, "payload", "prev_hash", "hash")
    rows = chain.model.objects.filter(seq__gte=lo, seq__lte=hi).order_by("seq")
    for values in rows.values_list(*columns).iterator(chunk_size=2000):
        entry = dict(zip(columns, values, strict=True))
        entry["recorded_at"] = ledger.time_text(entry["recorded_at"])
        if entry.get("subject_type") == "patients.patient":
            patients.add(entry["subject_id"])
        if entry.get("patient_uhid"):
            patients.add(entry["patient_uhid"])
        yield orjson.dumps(entry)


def _chain_meta(name: str, bounds: tuple | None, checkpoint) -> dict:
    chain = CHAINS[name]
    signed = checkpoint.doc[name]["seq"] if checkpoint else None
    meta = {
        "table": chain.model._meta.db_table,
        "header_columns": list(chain.columns),
        "window_first_seq": None,
        "window_last_seq": None,
        "last_seq": None,
        "checkpoint_seq": signed,
    }
    if bounds:
        lo, hi = bounds
        meta.update(
            window_first_seq=lo,
            window_last_seq=hi,
            last_seq=max(hi, signed) if signed is not None and signed >= lo else hi,
        )
    return meta


def write_slice(folder: Path, start: dt.datetime, end: dt.datetime) -> Sliced:
    """Write `ledger-slice.json` (one entry a line), the checkpoint and the public key."""
    bounds = {name: _bounds(chain, start, end) for name, chain in CHAINS.items()}
    checkpoint, path, note = _checkpoint(bounds)
    copied = None
    if checkpoint is not None:
        (folder / "checkpoint").mkdir(exist_ok=True)
        copied = f"checkpoint/{checkpoint.name}"
        shutil.copyfile(path, folder / copied)
        if Path(settings.AJEYA_LEDGER_PUBLIC_KEY).exists():
            shutil.copyfile(settings.AJEYA_LEDGER_PUBLIC_KEY, folder / "ledger-public.pem")
    head = {
        "format": FORMAT,
        "hospital_code": settings.AJEYA_HOSPITAL_CODE,
        "window": {"start": start.astimezone(dt.UTC), "end": end.astimezone(dt.UTC)},
        "hash_rule": HASH_RULE,
        "checkpoint": copied,
        "checkpoint_note": note,
    }
    result = Sliced(summary={"checkpoint": copied, "checkpoint_note": note})
    with (folder / "ledger-slice.json").open("wb") as out:
        out.write(orjson.dumps(head, option=orjson.OPT_UTC_Z)[:-1] + b',"chains":{')
        for n, name in enumerate(CHAINS):
            meta = _chain_meta(name, bounds[name], checkpoint)
            result.summary[name] = meta
            out.write(b"," if n else b"")
            out.write(orjson.dumps(name) + b":" + orjson.dumps(meta)[:-1] + b',"entries":[\n')
            if bounds[name]:
                lines = _entry_lines(
                    CHAINS[name], meta["window_first_seq"], meta["last_seq"], result.patients
                )
                for i, line in enumerate(lines):
                    out.write((b",\n" if i else b"") + line)
            out.write(b"\n]}")
        out.write(b"}}\n")
    return result


def _check_chain(name: str, part: dict, checkpoint) -> list[str]:
    columns, problems = CHAINS[name].columns, []
    prev, expected = None, None
    for e in part["entries"]:
        label = f"{name} #{e['seq']}"
        if expected is not None and e["seq"] != expected:
            problems.append(f"{label}: entries #{expected} to #{e['seq'] - 1} are missing")
        if prev is not None and e["prev_hash"] != prev:
            problems.append(f"{label}: does not link to the entry before it")
        head = ledger.header([e[c] for c in columns])
        if ledger.digest(e["prev_hash"], head, e["payload"].encode("utf-8")) != e["hash"]:
            problems.append(f"{label}: its hash does not match its contents")
        prev, expected = e["hash"], e["seq"] + 1
    if checkpoint is not None and part["entries"]:
        seq, digest = checkpoint.doc[name]["seq"], checkpoint.doc[name]["hash"]
        signed = next((e for e in part["entries"] if e["seq"] == seq), None)
        if signed is None:
            problems.append(f"{name}: entry #{seq}, which the checkpoint signs, is not here")
        elif signed["hash"] != digest:
            problems.append(f"{name} #{seq}: differs from the signed checkpoint")
    return problems


def verify_slice(folder: Path, public_key=None) -> list[str]:
    """Check an unpacked bundle's slice: every hash, every link, and the chain reaching
    the signed checkpoint (with `public_key`, or the bundle's own `ledger-public.pem`,
    which proves less: compare its key id with the one printed off the server).
    Returns the problems found; none means the slice is what the ledger signed."""
    folder = Path(folder)
    try:
        doc = orjson.loads((folder / "ledger-slice.json").read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        return [f"ledger-slice.json cannot be read: {exc}"]
    checkpoint, problems = None, []
    if doc.get("checkpoint"):
        key = public_key or checkpoints.load_public_key(folder / "ledger-public.pem")
        checkpoint = checkpoints.load(folder / doc["checkpoint"], key)
        if not checkpoint.signature_valid:
            problems.append(f"{doc['checkpoint']}: its signature does not match the key")
    else:
        problems.append("no signed checkpoint in the bundle: the slice proves only itself")
    for name, part in doc.get("chains", {}).items():
        try:
            problems += _check_chain(name, part, checkpoint)
        except (KeyError, TypeError, AttributeError) as exc:
            problems.append(f"{name}: an entry is malformed ({type(exc).__name__} {exc})")
    return problems
