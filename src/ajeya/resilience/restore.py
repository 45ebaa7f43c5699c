"""`ajeya restore`: rebuild the hospital on a clean machine from a backup target.

Phases, each timed: fetch (every object copied and its stored hash checked against the
signed manifest or segment before anything is opened), decrypt (and decompress; the
plain hashes checked), load (the snapshot into the database, then this version's
migrations), replay (shipped ledger entries up to the chosen moment), verify (`ajeya
verify` against the restored checkpoints, with the signing key from the offline key
file). Nothing is put where the hospital's database lives until every phase passed; a
restore that fails leaves the machine as it found it (or the evidence set aside under
an "unverified" name, never under the live one).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from django.apps import apps
from django.conf import settings
from django.db import connection, transaction

from ajeya.core import clock
from ajeya.core.errors import ApplicationError
from ajeya.ledger import verification
from ajeya.ledger.services import TIME_FORMAT
from ajeya.resilience import layout, replay, sealing, signing, snapshot
from ajeya.resilience.keys import RestoreKey

PHASES = ("fetch", "decrypt", "load", "replay", "verify")
CHAIN_NAMES = ("changes", "accesses")


class RestoreError(ApplicationError):
    code = "restore"


@dataclass
class Plan:
    manifest_key: str
    manifest: dict
    segments: list[tuple[str, dict]]  # (key of the signed description, description)
    documents: dict[str, dict]  # object key -> entry
    dropped_after: str = ""  # why the replay stops short of the newest segment, if it does


@dataclass
class Outcome:
    backup_id: str
    restored_to: str  # UTC time of the newest restored entry
    data_age_seconds: float | None
    phases: dict[str, float]
    replayed: replay.Replayed
    verified: verification.Report | None
    documents: int
    counts: dict[str, int] = field(default_factory=dict)
    database: str = ""
    heads: dict[str, int] = field(default_factory=dict)  # restored chain heads
    stopped_short: str = ""  # why replay ended before the newest segment, if it did

    def as_dict(self) -> dict:
        return {
            "backup_id": self.backup_id,
            "restored_to": self.restored_to,
            "data_age_seconds": self.data_age_seconds,
            "phases": self.phases,
            "seconds": sum(self.phases.values()),
            "replayed_changes": self.replayed.changes,
            "replayed_accesses": self.replayed.accesses,
            "documents": self.documents,
            "verified": bool(self.verified and self.verified.ok),
            "findings": [f.line() for f in self.verified.findings] if self.verified else [],
            "counts": self.counts,
            "database": self.database,
            "heads": self.heads,
            "stopped_short": self.stopped_short,
        }


def _text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime(TIME_FORMAT)


def _data_time(manifest: dict) -> str:
    return max(head.get("time", "") for head in manifest["heads"].values())


def plan(target, key: RestoreKey, *, at: dt.datetime | None = None,
         backup_id: str | None = None) -> Plan:  # fmt: skip
    """Choose the snapshot and the segments; every signature checked here."""
    keys = [k for k in target.list("snapshots/") if k.endswith("/manifest.json")]
    if backup_id:
        keys = [k for k in keys if k == layout.manifest_key(backup_id)]
        if not keys:
            raise RestoreError(f"{target.name}: there is no backup {backup_id}")
    if not keys:
        raise RestoreError(f"{target.name}: no backups there (no snapshots/*/manifest.json)")
    at_text = _text(at) if at else None
    chosen = None
    for mkey in sorted(keys, reverse=True):
        try:
            manifest = signing.load(target.get_bytes(mkey), key.signer, name=mkey, kind="manifest")
        except signing.SignatureError as exc:
            raise RestoreError(
                f"{exc.message}; nothing was restored (an earlier backup can be chosen with "
                "--backup ID)"
            ) from None
        if manifest.get("format") != layout.MANIFEST_FORMAT:
            raise RestoreError(f"{mkey} is not an Ajeya backup manifest")
        if at_text is None or _data_time(manifest) <= at_text:
            chosen = (mkey, manifest)
            break
    if chosen is None:
        raise RestoreError(f"{target.name}: no backup holds data from before {at_text} UTC")
    mkey, manifest = chosen
    engine = "sqlite" if connection.vendor == "sqlite" else "postgresql"
    if manifest["engine"] != engine:
        raise RestoreError(
            f"{mkey} is a {manifest['engine']} backup; this server is set up for {engine} "
            "(DATABASE_URL)"
        )
    heads = manifest["heads"]
    pos = {name: (heads[name]["seq"], heads[name]["hash"]) for name in CHAIN_NAMES}
    segments, stop, skipped = [], "", []
    consistent = 0
    for skey, named in _segment_keys(target, pos["changes"][0], pos["accesses"][0]):
        meta = signing.load(target.get_bytes(skey), key.signer, name=skey, kind="ledger segment")
        ranges = {name: meta[name] for name in CHAIN_NAMES}
        if (ranges["changes"]["last"], ranges["accesses"]["last"]) != named:
            raise RestoreError(f"{skey}: its name and its signed description disagree")
        if all(ranges[n]["last"] <= pos[n][0] for n in CHAIN_NAMES):
            continue  # shipped twice: nothing new
        # A segment that starts exactly at the head must chain to it; one that does not
        # belongs to another history (shipped after an earlier point-in-time restore).
        if any(
            ranges[n]["count"] and ranges[n]["after"] == pos[n][0]
            and ranges[n]["prev_hash"] != pos[n][1]
            for n in CHAIN_NAMES
        ):  # fmt: skip
            skipped.append(skey)
            continue
        if any(ranges[n]["after"] > pos[n][0] for n in CHAIN_NAMES):
            raise RestoreError(
                f"{target.name}: ledger entries after #{pos['changes'][0]} (changes) / "
                f"#{pos['accesses'][0]} (accesses) are on no segment before {skey}; a segment "
                "is missing. Restore to a moment before it with --at."
            )
        seg_time = max(ranges[n].get("last_time") or "" for n in CHAIN_NAMES)
        if at_text and seg_time > at_text:
            stop = f"segments after {at_text} UTC left out (--at)"
            break
        segments.append((skey, meta))
        for n in CHAIN_NAMES:
            if ranges[n]["last"] > pos[n][0]:
                pos[n] = (ranges[n]["last"], ranges[n]["last_hash"])
        if meta.get("consistent"):
            consistent = len(segments)
    if consistent < len(segments):
        stop = stop or "the newest segments were a backlog cut short; replay ends before them"
        segments = segments[:consistent]
    if skipped and not segments and not stop:
        stop = f"{len(skipped)} segments of another history left out"
    # The manifest's own description of a document wins over a segment's.
    documents: dict[str, dict] = {}
    for _, meta in reversed(segments):
        documents.update({d["key"]: d for d in meta.get("documents", [])})
    documents.update({d["key"]: d for d in manifest.get("documents", [])})
    for entry in documents.values():
        _check_document(entry)
    for entry in manifest["objects"]:
        _check_object_name(entry)
    return Plan(mkey, manifest, segments, documents, stop)


DOCUMENT_NAME = re.compile(r"^[0-9a-f]{64}\.[a-z0-9]{1,8}$")
SERVER_NAME = re.compile(
    r"^(ledger-signing\.key|ledger-signing\.pub|backup\.pub|checkpoints/checkpoint-[\w.-]+\.json)$"
)
DUMP_NAME = re.compile(r"^(ajeya\.sqlite3|pgdump/[\w.]+)$")


def _check_document(entry: dict) -> None:
    """Documents are named by their content; a name that is not a content hash, or that
    differs from what the plain bytes hash to, is refused before anything is written."""
    if entry.get("store") not in layout.document_stores() or not DOCUMENT_NAME.match(
        entry.get("name", "")
    ):
        raise RestoreError(f"{entry.get('key')}: not a document name this version writes")
    if entry["name"].split(".")[0] != entry["plain_sha256"]:
        raise RestoreError(f"{entry['key']}: its name is not the hash of its contents")


def _check_object_name(entry: dict) -> None:
    pattern = SERVER_NAME if entry.get("role") == "server" else DUMP_NAME
    if not pattern.match(entry.get("name", "")):
        raise RestoreError(f"{entry.get('key')}: {entry.get('name')!r} is not a name restore uses")


def _segment_keys(target, pos_c: int, pos_a: int) -> list[tuple[str, tuple[int, int]]]:
    found = []
    # Names sort by the changes chain's last entry, and every segment a backup needs ends
    # at or after its head: the storage skips the older ones (months of them, on S3).
    for key in target.list("ledger/", start_after=f"ledger/c{pos_c:012d}"):
        match = layout.SEGMENT_NAME.match(key)
        if match and (int(match[1]) > pos_c or int(match[2]) > pos_a):
            found.append((int(match[1]), int(match[2]), match[3], key))
    return [(key, (c, a)) for c, a, _, key in sorted(found)]


# -- the database side -----------------------------------------------------------------


class _Database:
    """Where the restore writes, and how it is undone or set aside."""

    def __init__(self, overwrite: bool) -> None:
        self.overwrite = overwrite
        self.vendor = connection.vendor
        name = settings.DATABASES["default"]["NAME"]
        self.final = Path(name) if self.vendor == "sqlite" else None
        self.loaded = False
        self.kept = ""  # PostgreSQL --overwrite: the schema the old tables were moved to

    def describe(self) -> str:
        if self.vendor == "sqlite":
            return str(self.final)
        db = settings.DATABASES["default"]
        return f"PostgreSQL database {db['NAME']} on {db.get('HOST') or 'localhost'}"

    def check_empty(self) -> None:
        if self.vendor == "sqlite":
            if self.final.exists() and self.final.stat().st_size and not self.overwrite:
                raise RestoreError(
                    f"{self.final} already exists; refusing to overwrite it (give --overwrite: "
                    "the old file is kept beside it)"
                )
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            )
            tables = cursor.fetchone()[0]
        if tables and not self.overwrite:
            raise RestoreError(
                f"{self.describe()} already has {tables} tables; refusing to overwrite it "
                "(give --overwrite to replace them)"
            )

    def load(self, plain: Path, files: list[tuple[str, Path]]) -> None:
        connection.close()
        if self.vendor == "sqlite":
            self.working = self.final.with_name(self.final.name + ".restoring")
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.working) + suffix).unlink(missing_ok=True)
            source = dict(files)["ajeya.sqlite3"]
            shutil.move(source, self.working)
            self._point_at(self.working)
            self.loaded = True
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            )
            occupied = cursor.fetchone()[0]
        # --overwrite: the old tables are set aside, never dropped, until the operator
        # decides (DROP SCHEMA before_restore_… CASCADE).
        self.kept = f"before_restore_{clock.now():%Y%m%dt%H%M%Sz}" if occupied else ""
        self._empty_schema(keep_as=self.kept)
        self.loaded = True
        dump = plain / "pgdump"
        dump.mkdir(exist_ok=True)
        for name, path in files:
            shutil.move(path, dump / name.split("/", 1)[1])
        result = subprocess.run(  # noqa: S603 - fixed tool, our arguments
            [snapshot.pg_tool("pg_restore"), "--jobs=2", "--no-owner", "--no-privileges",
             "--exit-on-error", f"--dbname={settings.DATABASES['default']['NAME']}", str(dump)],
            env=snapshot.pg_env(), capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["failed"])[-1]
            raise RestoreError(f"pg_restore failed: {last}")

    def _point_at(self, path: Path) -> None:
        connection.close()
        connection.settings_dict["NAME"] = str(path)

    def _empty_schema(self, keep_as: str = "") -> None:
        with connection.cursor() as cursor:
            if keep_as:
                cursor.execute(f'ALTER SCHEMA public RENAME TO "{keep_as}"')
            else:
                cursor.execute("DROP SCHEMA IF EXISTS public CASCADE")
            cursor.execute("CREATE SCHEMA public")
        connection.close()

    def commit(self) -> str:
        """Put the restored database in the live place."""
        if self.vendor != "sqlite":
            kept = self.kept
            return self.describe() + (f" (the old tables kept in schema {kept})" if kept else "")
        connection.close()
        kept = ""
        if self.final.exists():
            kept = str(self.final) + f".before-restore-{clock.now():%Y%m%dT%H%M%SZ}"
            for suffix in ("", "-wal", "-shm"):  # the WAL holds committed work too
                if Path(str(self.final) + suffix).exists():
                    Path(str(self.final) + suffix).rename(kept + suffix)
        self.working.rename(self.final)
        self._point_at(self.final)
        return str(self.final) + (f" (the old database kept as {kept})" if kept else "")

    def abandon(self, *, keep: bool) -> str:
        """Undo, or set the evidence aside under a name nobody runs the hospital from."""
        if not self.loaded:
            return ""
        stamp = f"{clock.now():%Y%m%dT%H%M%SZ}"
        if self.vendor == "sqlite":
            connection.close()
            if keep and self.working.exists():
                aside = self.final.with_name(f"{self.final.name}.unverified-{stamp}")
                self.working.rename(aside)
                result = f"the unverified restore is kept as {aside}"
            else:
                self.working.unlink(missing_ok=True)
                result = "nothing was restored"
            for suffix in ("-wal", "-shm"):
                Path(str(self.working) + suffix).unlink(missing_ok=True)
            connection.settings_dict["NAME"] = str(self.final)
            return result
        name = f"unverified_restore_{stamp.lower()}"
        self._empty_schema(keep_as=name if keep else "")
        result = f"the unverified restore is kept in schema {name}" if keep else "nothing restored"
        if self.kept:
            with connection.cursor() as cursor:  # the old tables back where they were
                cursor.execute("DROP SCHEMA public CASCADE")
                cursor.execute(f'ALTER SCHEMA "{self.kept}" RENAME TO public')
            connection.close()
            result += "; the old tables are back"
        return result


# -- the restore --------------------------------------------------------------------------


def restore(target, key: RestoreKey, *, at: dt.datetime | None = None,
            backup_id: str | None = None, overwrite: bool = False,
            progress: layout.Progress = layout.quiet) -> Outcome:  # fmt: skip
    phases = dict.fromkeys(PHASES, 0.0)
    target.open()  # an unreachable target is named before anything else is looked at
    database = _Database(overwrite)
    database.check_empty()
    work = Path(settings.AJEYA_STAGING_DIR) / f"restore-{clock.now():%Y%m%dT%H%M%S%f}"
    work.mkdir(parents=True, mode=0o700)
    try:
        return _run(target, key, at, backup_id, database, work, phases, progress)
    except BaseException as exc:
        verified = isinstance(exc, _Unverified)
        note = database.abandon(keep=verified)
        if isinstance(exc, ApplicationError) and note:
            exc.message = f"{exc.message}; {note}"
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _Unverified(RestoreError):
    pass


def _run(target, key, at, backup_id, database, work, phases, progress) -> Outcome:
    fetched, plain = work / "fetched", work / "plain"
    fetched.mkdir()
    plain.mkdir()
    started = time.perf_counter()
    the_plan = plan(target, key, at=at, backup_id=backup_id)
    manifest = the_plan.manifest
    objects = [(o["key"], o) for o in manifest["objects"]]
    objects += [(m["object"]["key"], m["object"]) for _, m in the_plan.segments]
    objects += list(the_plan.documents.items())
    local: dict[str, Path] = {}
    for i, (okey, entry) in enumerate(objects, 1):
        path = fetched / f"{i:06d}.age"
        target.get_file(okey, path)
        sha, size = sealing.file_sha256(path)
        if sha != entry["sha256"] or size != entry["size"]:
            raise RestoreError(
                f"{target.name}: object {okey} differs from what the signed manifest "
                f"recorded (sha256 {sha[:16]}…, expected {entry['sha256'][:16]}…): tampered "
                "or damaged; nothing was restored"
            )
        local[okey] = path
        progress("Fetching and checking", i, len(objects))
    phases["fetch"] = time.perf_counter() - started

    started = time.perf_counter()
    opened: dict[str, Path] = {}
    for i, (okey, entry) in enumerate(objects, 1):
        out = plain / f"{i:06d}"
        sha, size = sealing.open_file(local[okey], out, key.identity, name=okey)
        if sha != entry["plain_sha256"] or size != entry["plain_size"]:
            raise RestoreError(f"{okey}: decrypted content differs from the manifest")
        local[okey].unlink()
        opened[okey] = out
        progress("Decrypting", i, len(objects))
    phases["decrypt"] = time.perf_counter() - started

    started = time.perf_counter()
    db_files = [
        (o["name"], opened[o["key"]]) for o in manifest["objects"] if o["role"] == "database"
    ]
    database.load(plain, db_files)
    progress("Loading the database", 1, 2)
    from django.core.management import call_command

    check_schema_version()
    call_command("migrate", interactive=False, verbosity=0)
    progress("Loading the database", 2, 2)
    phases["load"] = time.perf_counter() - started

    started = time.perf_counter()
    replayed = replay.Replayed()
    heads = {n: (manifest["heads"][n]["seq"], manifest["heads"][n]["hash"]) for n in CHAIN_NAMES}
    # A backlog cut into pieces may split one of the hospital's transactions between two
    # segments: each run of segments up to a consistent one commits as one.
    group: list[tuple[str, dict]] = []
    for i, (skey, meta) in enumerate(the_plan.segments, 1):
        group.append((skey, meta))
        if not meta.get("consistent") and i < len(the_plan.segments):
            continue
        with transaction.atomic():
            for each_key, each in group:
                payload = orjson.loads(opened[each["object"]["key"]].read_bytes())
                try:
                    heads = replay.apply_segment(
                        payload, heads=heads, meta=each, label=each_key, result=replayed
                    )
                except replay.ChainBroken as exc:
                    raise RestoreError(f"{exc}; nothing was restored") from None
        group = []
        progress("Replaying the ledger", i, len(the_plan.segments))
    replay.reset_id_sequences(replayed.touched)
    phases["replay"] = time.perf_counter() - started

    started = time.perf_counter()
    restored_heads = {n: heads[n][0] for n in CHAIN_NAMES}
    staged_files, staged_checkpoints = _stage_server_files(manifest, opened, work, restored_heads)
    documents = _stage_documents(the_plan.documents, opened)
    installs = _installs([*staged_files, *documents], overwrite=database.overwrite)
    report = verification.verify(
        public_key=key.signer, workers=os.cpu_count() or 1, checkpoint_dir=staged_checkpoints
    )
    phases["verify"] = time.perf_counter() - started
    if not report.ok:
        lines = "; ".join(f.line() for f in report.findings[:5])
        raise _Unverified(
            f"the restored database does not verify ({len(report.findings)} findings: {lines})"
        )
    where = database.commit()
    _install(installs)
    _ship_from(restored_heads)
    restored_to = max(_data_time(manifest), replayed.last_time)
    age = None
    if restored_to:
        moment = dt.datetime.strptime(restored_to, TIME_FORMAT).replace(tzinfo=dt.UTC)
        age = (clock.now() - moment).total_seconds()
    with connection.cursor() as cursor:
        counts = snapshot.table_counts(cursor)
    return Outcome(
        manifest["backup_id"], restored_to, age, phases, replayed, report, len(documents),
        counts, where, restored_heads, the_plan.dropped_after,
    )  # fmt: skip


def check_schema_version() -> None:
    """A backup made by a newer Ajeya holds migrations this version does not know: refuse
    by name rather than run on a schema the code does not match."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(connection, ignore_no_migrations=True)
    unknown = sorted(set(loader.applied_migrations) - set(loader.disk_migrations))
    ours = {app.label for app in apps.get_app_configs()}
    unknown = [(app, name) for app, name in unknown if app in ours]
    if unknown:
        app, name = unknown[0]
        raise RestoreError(
            f"the backup was made by a newer version of Ajeya (its database has migration "
            f"{app}.{name}, which this version does not know): restore with that version "
            "or a later one"
        )


def _stage_server_files(manifest: dict, opened: dict[str, Path], work: Path,
                        heads: dict[str, int]) -> tuple[list, Path]:  # fmt: skip
    """(source, destination) of the keys and of the checkpoints the restored chains reach,
    and a directory holding those checkpoints for the verification."""
    staged = work / "checkpoints"
    staged.mkdir()
    files = []
    for o in manifest["objects"]:
        if o["role"] != "server":
            continue
        source = opened[o["key"]]
        if o["name"].startswith("checkpoints/"):
            try:
                doc = orjson.loads(source.read_bytes())
                seqs = {n: int(doc[n]["seq"]) for n in CHAIN_NAMES}
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                raise RestoreError(f"{o['key']}: not a readable checkpoint") from None
            if any(seqs[n] > heads[n] for n in CHAIN_NAMES):
                continue  # signed after the point restored to: it does not apply
            shutil.copyfile(source, staged / o["name"].split("/", 1)[1])
        files.append((source, layout.server_file_destination(o["name"])))
    return files, staged


def _stage_documents(documents: dict[str, dict], opened: dict[str, Path]) -> list:
    stores = layout.document_stores()
    return [(opened[key], stores[e["store"]] / e["name"]) for key, e in documents.items()]


def _installs(pairs: list, *, overwrite: bool) -> list:
    """What to put in place after the database is committed; refused now (before anything
    is written) if a different file is in the way and --overwrite was not given."""
    todo = []
    for source, dest in pairs:
        if dest.exists():
            if dest.read_bytes() == source.read_bytes():
                continue
            if not overwrite:
                raise RestoreError(f"{dest} already exists and differs; give --overwrite")
        todo.append((source, dest))
    return todo


def _install(todo: list) -> None:
    """Keys, checkpoints and documents into place, each written private (0600) from the
    start; a different file already there is kept beside it."""
    stamp = f"{clock.now():%Y%m%dT%H%M%SZ}"
    for source, dest in todo:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            dest.rename(dest.with_name(f"{dest.name}.before-restore-{stamp}"))
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out)


def _ship_from(heads: dict[str, int]) -> None:
    """The restored server ships what it writes next, not its ledger again from the
    snapshot's old position (the targets already hold everything up to `heads`)."""
    from ajeya.resilience.models import ShipState

    for name in settings.AJEYA_BACKUP_TARGETS:
        ShipState.objects.update_or_create(
            target=name,
            defaults={"changes_seq": heads["changes"], "accesses_seq": heads["accesses"],
                      "last_error": ""},
        )  # fmt: skip
