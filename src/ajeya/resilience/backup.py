"""`ajeya backup`: snapshot the database and the server's key files, add the documents
the target lacks, seal everything (zstd + age) and write a signed manifest last."""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from ajeya.core import clock
from ajeya.core.errors import ApplicationError
from ajeya.ledger import checkpoints
from ajeya.resilience import keys, layout, sealing, signing, snapshot, targets
from ajeya.resilience.models import BackupRun


@dataclass
class Result:
    target: str
    backup_id: str
    ok: bool
    message: str
    run: BackupRun


def staging_dir(kind: str) -> Path:
    path = Path(settings.AJEYA_STAGING_DIR) / f"{kind}-{secrets.token_hex(6)}"
    path.mkdir(parents=True, mode=0o700)
    return path


def known_documents(target, signer_public) -> dict[str, dict]:
    """What the newest readable manifest on the target says about its documents."""
    for key in reversed(manifests(target)):
        try:
            doc = signing.load(target.get_bytes(key), signer_public, name=key, kind="manifest")
        except ApplicationError:
            continue
        return {item["key"]: item for item in doc.get("documents", [])}
    return {}


def manifests(target) -> list[str]:
    return [k for k in target.list("snapshots/") if k.endswith("/manifest.json")]


def document_entry(target, store: str, name: str, path: Path, known: dict, recipient,
                   work: Path) -> tuple[dict, bool]:  # fmt: skip
    """The manifest's line for one document, storing it first if the target lacks it.
    Returns (entry, stored now)."""
    key = layout.document_key(store, name)
    if key in known:
        return known[key], False
    if target.exists(key):
        # Stored by the shipper or a backup whose manifest we could not read: describe
        # it from the stored bytes (the server cannot decrypt them; the plain hash is
        # the file's name, since documents are named by their SHA-256).
        sha, size = _stored_hash(target, key, work)
        plain_sha, plain_size = sealing.file_sha256(path)
        entry = {"key": key, "store": store, "name": name, "sha256": sha, "size": size,
                 "plain_sha256": plain_sha, "plain_size": plain_size}  # fmt: skip
        return entry, False
    return store_document(target, store, name, path, recipient), True


def store_document(target, store: str, name: str, path: Path, recipient) -> dict:
    """Seal one document, put it on the target, and return its manifest line (backups
    and the shipper both describe documents so)."""
    key = layout.document_key(store, name)
    blob, sealed = sealing.seal_bytes(path.read_bytes(), recipient)
    target.put_bytes(key, blob)
    return {"key": key, "store": store, "name": name, **sealed.as_dict()}


def _stored_hash(target, key: str, work: Path) -> tuple[str, int]:
    tmp = work / "check.age"
    target.get_file(key, tmp)
    try:
        return sealing.file_sha256(tmp)
    finally:
        tmp.unlink(missing_ok=True)


def backup(target_name: str | None = None, *, trigger: str = "cli",
           progress: layout.Progress = layout.quiet) -> list[Result]:  # fmt: skip
    """Back up to every configured target (or the one named). A target that fails is
    recorded and named; the others still get their copy."""
    recipient = keys.recipient()
    signer = checkpoints.load_private_key()
    chosen = targets.configured(target_name)
    backup_id = layout.new_backup_id()
    started = clock.now()
    work = staging_dir("backup")
    try:
        progress("Snapshot of the database", 0, None)
        snap = snapshot.take(work / "db")
        progress("Snapshot of the database", 1, 1)
        sealed_db = []
        total = len(snap.files)
        for i, (name, path) in enumerate(snap.files, 1):
            out = work / f"db-{i}.age"
            sealed_db.append((f"snapshots/{backup_id}/db/{name}.age", name, out,
                              sealing.seal_file(path, out, recipient)))  # fmt: skip
            path.unlink()
            progress("Compressing and encrypting", i, total)
        sealed_server = []
        for i, (name, path) in enumerate(layout.server_files(snap.heads)):
            out = work / f"server-{i}.age"
            sealed_server.append((f"snapshots/{backup_id}/server/{name}.age", name, out,
                                  sealing.seal_file(path, out, recipient)))  # fmt: skip
        results = [
            _to_target(
                target,
                backup_id,
                started,
                snap,
                sealed_db,
                sealed_server,
                recipient,
                signer,
                work,
                trigger,
                progress,
            )
            for target in chosen
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def _to_target(target, backup_id, started, snap, sealed_db, sealed_server, recipient, signer,
               work, trigger, progress) -> Result:  # fmt: skip
    run = BackupRun.objects.create(
        target=target.name, backup_id=backup_id, started_at=started, trigger=trigger,
        changes_seq=snap.heads["changes"]["seq"],
    )  # fmt: skip
    try:
        target.open()
        objects = []
        for key, name, path, sealed in [*sealed_db, *sealed_server]:
            target.put_file(key, path)
            role = "database" if key.split("/")[2] == "db" else "server"
            objects.append({"key": key, "role": role, "name": name, **sealed.as_dict()})
        known = known_documents(target, signer.public_key())
        docs, added = [], 0
        files = layout.document_files()
        for i, (store, name, path) in enumerate(files, 1):
            entry, stored = document_entry(target, store, name, path, known, recipient, work)
            docs.append(entry)
            added += stored
            progress(f"Documents to {target.name}", i, len(files))
        manifest = {
            "format": layout.MANIFEST_FORMAT,
            "backup_id": backup_id,
            "hospital": {
                "code": settings.AJEYA_HOSPITAL_CODE,
                "name": settings.AJEYA_HOSPITAL_NAME,
            },
            "created_at": started.isoformat(),
            "engine": snap.engine,
            "heads": snap.heads,
            "sequences": snap.sequences,
            "counts": snap.counts,
            "objects": objects,
            "documents": docs,
        }
        target.put_bytes(layout.manifest_key(backup_id), signing.sign(manifest, signer))
        run.ok = True
        run.object_count = len(objects) + len(docs)
        run.stored_bytes = sum(o["size"] for o in objects) + sum(d["size"] for d in docs)
        run.plain_bytes = sum(o["plain_size"] for o in objects)
        run.documents_added = added
        run.message = f"{len(objects)} objects, {added} new documents"
    except ApplicationError as exc:
        run.message = exc.message
    except OSError as exc:
        run.message = f"{target.name}: {exc.strerror or exc}"
    except Exception as exc:  # a misconfigured target must not stop the others
        run.message = f"{target.name}: {type(exc).__name__}: {exc}"
    run.finished_at = clock.now()
    run.save()
    return Result(target.name, backup_id, run.ok, run.message, run)
