"""Where backups go: a directory (a USB disk, a network share) or S3-compatible object
storage with Object Lock.

A target only ever adds objects: `put` refuses a name already there, and nothing here
deletes (retention is `ajeya backup prune`, run where the backups live). On S3 every
object is written with a COMPLIANCE retention date, so the app's credentials cannot
delete or shorten it even if the server is taken over.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
from pathlib import Path, PurePosixPath

from django.conf import settings

from ajeya.core import clock
from ajeya.core.errors import ApplicationError


class TargetError(ApplicationError):
    code = "backup-target"


class MissingObject(TargetError):
    code = "backup-missing"


def _check_key(key: str) -> str:
    path = PurePosixPath(key)
    if path.is_absolute() or ".." in path.parts or not key or key != str(path):
        raise TargetError(f"{key!r} is not a valid object name")
    return key


class DirectoryTarget:
    kind = "directory"

    def __init__(self, name: str, root: Path) -> None:
        self.name, self.root = name, Path(root)

    def __str__(self) -> str:
        return f"{self.name} ({self.root})"

    def open(self) -> DirectoryTarget:
        if not self.root.is_dir():
            raise TargetError(f"backup target {self.name}: {self.root} is not a directory")
        return self

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def put_file(self, key: str, source: Path) -> None:
        self._publish(key, lambda tmp: shutil.copyfile(source, tmp))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._publish(key, lambda tmp: tmp.write_bytes(data))

    def _publish(self, key: str, write) -> None:
        """Write under a temporary name, fsync, make it read-only, then link it into
        place: a reader never sees half an object, and an existing name is refused."""
        final = self._path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        incoming = self.root / ".incoming"
        incoming.mkdir(exist_ok=True)
        tmp = incoming / f"{secrets.token_hex(8)}.part"
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o444)
        try:
            os.link(tmp, final)  # fails if the name exists: never overwrite
        except FileExistsError:
            raise TargetError(
                f"{self.name}: {key} already exists; backups never overwrite"
            ) from None
        finally:
            tmp.unlink(missing_ok=True)
        fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def get_file(self, key: str, dest: Path) -> None:
        path = self._path(key)
        if not path.is_file():
            raise MissingObject(f"{self.name}: object {key} is missing")
        shutil.copyfile(path, dest)

    def get_bytes(self, key: str) -> bytes:
        path = self._path(key)
        if not path.is_file():
            raise MissingObject(f"{self.name}: object {key} is missing")
        return path.read_bytes()

    def list(self, prefix: str, start_after: str = "") -> list[str]:
        """Names under `prefix`, sorted; only those after `start_after` if given."""
        base = self.root / prefix
        if not base.exists():
            return []
        return sorted(
            name
            for p in base.rglob("*")
            if p.is_file()
            and ".incoming" not in p.parts
            and (name := p.relative_to(self.root).as_posix()) > start_after
        )

    def delete(self, key: str) -> None:
        """Retention only (`ajeya backup prune`, run where the backups live)."""
        path = self._path(key)
        os.chmod(path, 0o644)
        path.unlink()


class S3Target:
    """S3-compatible storage; the bucket must have versioning and Object Lock on."""

    kind = "s3"

    def __init__(self, spec: dict[str, str]) -> None:
        self.name = spec["name"]
        where = spec["where"][len("s3://") :]
        self.bucket, _, prefix = where.partition("/")
        self.prefix = prefix.strip("/")
        self.spec = spec
        self.retention = dt.timedelta(days=int(spec.get("retention_days") or 30))
        self._client = None

    def __str__(self) -> str:
        return f"{self.name} (s3://{self.bucket}/{self.prefix})"

    def open(self) -> S3Target:
        import boto3
        from botocore.config import Config

        if not self.bucket:
            raise TargetError(f"backup target {self.name}: no bucket in {self.spec['where']}")
        self._client = boto3.client(
            "s3",
            endpoint_url=self.spec.get("endpoint") or None,
            region_name=self.spec.get("region") or "us-east-1",
            aws_access_key_id=self.spec.get("access_key") or None,
            aws_secret_access_key=self.spec.get("secret_key") or None,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3},
                connect_timeout=5,
                read_timeout=60,
            ),
        )
        try:
            lock = self._client.get_object_lock_configuration(Bucket=self.bucket)
        except Exception as exc:
            raise TargetError(
                f"backup target {self.name}: bucket {self.bucket} has no Object Lock or "
                f"cannot be reached ({_s3_message(exc)})"
            ) from None
        if lock.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
            raise TargetError(f"backup target {self.name}: Object Lock is off on {self.bucket}")
        return self

    def _key(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _lock_args(self) -> dict:
        return {
            "ObjectLockMode": "COMPLIANCE",
            "ObjectLockRetainUntilDate": clock.now() + self.retention,
        }

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            if _s3_code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise TargetError(f"{self.name}: cannot look up {key} ({_s3_message(exc)})") from None
        return True

    def _put(self, key: str, store) -> None:
        if self.exists(key):
            raise TargetError(f"{self.name}: {key} already exists; backups never overwrite")
        try:
            store(self._key(key), self._lock_args())
        except Exception as exc:
            raise TargetError(f"{self.name}: cannot store {key} ({_s3_message(exc)})") from None

    def put_file(self, key: str, source: Path) -> None:
        self._put(key, lambda full, lock: self._client.upload_file(
            str(source), self.bucket, full, ExtraArgs=lock))  # fmt: skip

    def put_bytes(self, key: str, data: bytes) -> None:
        self._put(key, lambda full, lock: self._client.put_object(
            Bucket=self.bucket, Key=full, Body=data, **lock))  # fmt: skip

    def _get(self, key: str, fetch):
        try:
            return fetch(self._key(key), self._first_version(key))
        except MissingObject:
            raise
        except Exception as exc:
            if _s3_code(exc) in {"404", "NoSuchKey", "NotFound"}:
                raise MissingObject(f"{self.name}: object {key} is missing") from None
            raise TargetError(f"{self.name}: cannot fetch {key} ({_s3_message(exc)})") from None

    def _first_version(self, key: str) -> dict:
        """The version written first. Ajeya never writes a name twice, so a later version
        was put by someone else with the app's credentials (which can add, not delete):
        the locked original is the one to read."""
        full = self._key(key)
        versions = self._client.list_object_versions(Bucket=self.bucket, Prefix=full)
        mine = [v for v in versions.get("Versions", []) if v["Key"] == full]
        if not mine:
            raise MissingObject(f"{self.name}: object {key} is missing")
        # Listed newest first; two versions may share a timestamp to the second.
        first = min(enumerate(mine), key=lambda iv: (iv[1]["LastModified"], -iv[0]))[1]
        return {"VersionId": first["VersionId"]}

    def get_file(self, key: str, dest: Path) -> None:
        self._get(key, lambda full, version: self._client.download_file(
            self.bucket, full, str(dest), ExtraArgs=version))  # fmt: skip

    def get_bytes(self, key: str) -> bytes:
        return self._get(key, lambda full, version: self._client.get_object(
            Bucket=self.bucket, Key=full, **version)["Body"].read())  # fmt: skip

    def list(self, prefix: str, start_after: str = "") -> list[str]:
        """Names under `prefix`, sorted; the storage skips those up to `start_after`."""
        if ".." in prefix.split("/") or prefix.startswith("/"):
            raise TargetError(f"{prefix!r} is not a valid prefix")
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        after = {}
        if start_after:
            after["StartAfter"] = f"{self.prefix}/{start_after}" if self.prefix else start_after
        keys = []
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=full, **after
            )
            for page in pages:
                keys.extend(item["Key"] for item in page.get("Contents", []))
        except Exception as exc:
            raise TargetError(f"{self.name}: cannot list {prefix} ({_s3_message(exc)})") from None
        cut = len(self.prefix) + 1 if self.prefix else 0
        return sorted(key[cut:] for key in keys)

    def delete(self, key: str) -> None:
        """Retention only: removes the current version once its lock has run out (the
        storage refuses earlier); run with the storage owner's credentials."""
        versions = self._client.list_object_versions(Bucket=self.bucket, Prefix=self._key(key))
        for version in versions.get("Versions", []):
            if version["Key"] == self._key(key):
                self._client.delete_object(
                    Bucket=self.bucket, Key=version["Key"], VersionId=version["VersionId"]
                )


def _s3_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _s3_message(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    if error:
        return f"{error.get('Code', '')}: {error.get('Message', '')}".strip(": ")
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


Target = DirectoryTarget | S3Target


def from_spec(spec: dict[str, str]) -> Target:
    where = spec["where"]
    if where.startswith("s3://"):
        return S3Target(spec)
    return DirectoryTarget(spec["name"], Path(where))


def configured(name: str | None = None) -> list[Target]:
    """The targets in AJEYA_BACKUP_TARGETS (or the one named)."""
    specs = settings.AJEYA_BACKUP_TARGETS
    if not specs:
        raise TargetError("no backup targets: set AJEYA_BACKUP_TARGETS (see docs/recovery.md)")
    if name is not None:
        if name not in specs:
            raise TargetError(f"no backup target named {name!r} (known: {', '.join(specs)})")
        return [from_spec(specs[name])]
    return [from_spec(spec) for spec in specs.values()]


def resolve(where: str) -> Target:
    """`--from`: a configured target's name, a directory, or s3://bucket/prefix (whose
    endpoint and credentials come from AJEYA_BACKUP_RESTORE_* variables)."""
    specs = settings.AJEYA_BACKUP_TARGETS
    if where in specs:
        return from_spec(specs[where])
    if where.startswith("s3://"):
        return S3Target({"name": "restore", "where": where, **settings.AJEYA_BACKUP_RESTORE_S3})
    return DirectoryTarget(Path(where).name or "target", Path(where))
