"""Signed checkpoints: the heads of both chains, signed with the hospital's Ed25519 key.

A checkpoint copied off the server (backup targets, a printout) lets `ajeya verify` find
a chain whose tail was cut off or which was rewritten, even by someone holding the
database. The private key signs on the server; verification needs only the public key,
kept (and printed) off the machine too.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from ajeya.core import clock
from ajeya.core.errors import ApplicationError
from ajeya.ledger.canonical import canonical_bytes
from ajeya.ledger.models import AccessEntry, LedgerEntry
from ajeya.ledger.services import GENESIS_HASH

FORMAT = "ajeya-ledger-checkpoint/1"


class CheckpointError(ApplicationError):
    code = "checkpoint"
    exit_code = 2


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def generate_keys(private_path: Path, public_path: Path) -> str:
    """Make the signing key pair; refuses to overwrite. Returns the key id."""
    for path in (private_path, public_path):
        if path.exists():
            raise CheckpointError(
                f"{path} already exists; move it away first (never delete a "
                "key whose checkpoints you still need to verify)"
            )
    private = Ed25519PrivateKey.generate()
    _write_private(
        private_path,
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    public_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key_id(private.public_key())


def load_private_key(path: Path | None = None) -> Ed25519PrivateKey:
    path = Path(path or settings.AJEYA_LEDGER_SIGNING_KEY)
    if not path.exists():
        raise CheckpointError(f"no ledger signing key at {path}: run `ajeya ledger keygen` first")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{path} is not a readable Ed25519 private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"{path} is not an Ed25519 key")
    return key


def load_public_key(path: Path | None = None) -> Ed25519PublicKey:
    path = Path(path or settings.AJEYA_LEDGER_PUBLIC_KEY)
    if not path.exists():
        raise CheckpointError(f"no ledger public key at {path}: set AJEYA_LEDGER_PUBLIC_KEY")
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except ValueError as exc:
        raise CheckpointError(f"{path} is not a readable Ed25519 public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointError(f"{path} is not an Ed25519 key")
    return key


def _head(model) -> tuple[int, str]:
    head = model.objects.order_by("-seq").values_list("seq", "hash").first()
    return head if head else (0, GENESIS_HASH)


def _signed_part(doc: dict) -> bytes:
    return canonical_bytes({k: v for k, v in doc.items() if k != "signature"})


@dataclass
class Checkpoint:
    name: str
    doc: dict
    signature_valid: bool

    @property
    def heads(self) -> dict[str, tuple[int, str]]:
        return {
            LedgerEntry._meta.db_table: (self.doc["changes"]["seq"], self.doc["changes"]["hash"]),
            AccessEntry._meta.db_table: (self.doc["accesses"]["seq"], self.doc["accesses"]["hash"]),
        }

    def summary(self) -> dict:
        return {
            "file": self.name,
            "created_at": self.doc["created_at"],
            "changes_seq": self.doc["changes"]["seq"],
            "accesses_seq": self.doc["accesses"]["seq"],
            "key_id": self.doc["key_id"],
            "signature_valid": self.signature_valid,
        }

    def paper_text(self) -> str:
        d = self.doc
        return (
            f"AJEYA LEDGER CHECKPOINT {d['hospital_code']} {d['created_at']}\n"
            f"changes  #{d['changes']['seq']} {d['changes']['hash']}\n"
            f"accesses #{d['accesses']['seq']} {d['accesses']['hash']}\n"
            f"key {d['key_id']} signature {d['signature']}"
        )


def _refuse_unless_extends(previous: Checkpoint) -> None:
    """Sign nothing that does not extend the last signed state: otherwise an intruder who
    rewrote old entries would get the rewrite signed by the next scheduled checkpoint."""
    for model in (LedgerEntry, AccessEntry):
        seq, digest = previous.heads[model._meta.db_table]
        if seq == 0:
            continue
        stored = model.objects.filter(seq=seq).values_list("hash", flat=True).first()
        if stored != digest:
            raise CheckpointError(
                f"refusing to sign: {model._meta.db_table} no longer extends checkpoint "
                f"{previous.name} (entry #{seq} is {'gone' if stored is None else 'different'}); "
                "run `ajeya verify`"
            )


def create(directory: Path | None = None, private_key: Ed25519PrivateKey | None = None):
    """Sign both chain heads and write the checkpoint file; return (Checkpoint, path)."""
    key = private_key or load_private_key()
    directory = Path(directory or settings.AJEYA_CHECKPOINT_DIR)
    if directory.exists() and not directory.is_dir():
        raise CheckpointError(f"{directory} is not a directory")
    previous = newest(directory, key.public_key())
    if previous is not None:
        _refuse_unless_extends(previous)
    changes, accesses = _head(LedgerEntry), _head(AccessEntry)
    doc = {
        "format": FORMAT,
        "hospital_code": settings.AJEYA_HOSPITAL_CODE,
        "hospital_name": settings.AJEYA_HOSPITAL_NAME,
        "created_at": clock.now(),
        "changes": {"seq": changes[0], "hash": changes[1]},
        "accesses": {"seq": accesses[0], "hash": accesses[1]},
        "key_id": key_id(key.public_key()),
    }
    doc = orjson.loads(canonical_bytes(doc))
    doc["signature"] = base64.b64encode(key.sign(_signed_part(doc))).decode("ascii")
    stamp = clock.now().strftime("%Y%m%dT%H%M%S%fZ")
    path = directory / f"checkpoint-{changes[0]:012d}-{stamp}.json"
    directory.mkdir(parents=True, exist_ok=True)
    # Write whole or not at all: a torn checkpoint would be read as tampering.
    with tempfile.NamedTemporaryFile("wb", dir=directory, delete=False, suffix=".tmp") as tmp:
        tmp.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, path)
    return Checkpoint(path.name, doc, True), path


def load(path: Path, public_key: Ed25519PublicKey | None = None) -> Checkpoint:
    """Read and check a checkpoint file. Bad files raise CheckpointError (one line);
    a well-formed file with a bad signature comes back with signature_valid=False."""
    return _parse(Path(path), _read(Path(path)), public_key)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint file {path} does not exist") from None
    except OSError as exc:
        raise CheckpointError(f"checkpoint file {path} cannot be read: {exc.strerror}") from None


def _parse(path: Path, data: bytes, public_key: Ed25519PublicKey | None) -> Checkpoint:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise CheckpointError(
            f"checkpoint file {path.name} is corrupted (not valid JSON)"
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{path.name} is not an Ajeya ledger checkpoint")
    try:
        heads = [(int(doc[k]["seq"]), str(doc[k]["hash"])) for k in ("changes", "accesses")]
        signature = base64.b64decode(doc["signature"], validate=True)
        doc["key_id"], doc["created_at"], doc["hospital_code"]
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(
            f"checkpoint file {path.name} is corrupted (fields missing)"
        ) from None
    if any(seq < 0 or len(h) != 64 for seq, h in heads):
        raise CheckpointError(f"checkpoint file {path.name} is corrupted (bad chain head)")
    if doc["hospital_code"] != settings.AJEYA_HOSPITAL_CODE:
        raise CheckpointError(
            f"{path.name} belongs to hospital {doc['hospital_code']}, "
            f"not this one ({settings.AJEYA_HOSPITAL_CODE})"
        )
    key = public_key or load_public_key()
    try:
        key.verify(signature, _signed_part(doc))
        valid = True
    except InvalidSignature:
        valid = False
    return Checkpoint(path.name, doc, valid)


def sort_key(checkpoint: Checkpoint) -> tuple:
    d = checkpoint.doc
    return (d["changes"]["seq"], d["accesses"]["seq"], d["created_at"])


def load_all(
    directory: Path | None = None, public_key: Ed25519PublicKey | None = None
) -> tuple[list[Checkpoint], list[str]]:
    """Every checkpoint in the directory, oldest first by what they sign (file names are
    not signed and prove nothing), and one line for each file that cannot be read."""
    directory = Path(directory or settings.AJEYA_CHECKPOINT_DIR)
    if not directory.is_dir():
        return [], []
    key = public_key or load_public_key()
    key_bytes = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    found, problems = [], []
    for path in sorted(directory.glob("checkpoint-*.json")):
        try:
            found.append(_load_cached(path, key, key_bytes))
        except CheckpointError as exc:
            problems.append(exc.message)
    return sorted(found, key=sort_key), problems


# The dashboard and every scheduled signing look at all checkpoints, which grow by one
# every few minutes: each file's signature is checked once per process for the same
# bytes and key (keyed by content, not by timestamps, which an intruder can set).
_LOADED: dict[tuple, Checkpoint] = {}


def _load_cached(path: Path, key: Ed25519PublicKey, key_bytes: bytes) -> Checkpoint:
    data = _read(path)
    ident = (str(path), hashlib.sha256(data).digest(), key_bytes)
    if ident not in _LOADED:
        _LOADED[ident] = _parse(path, data, key)
    return _LOADED[ident]


def newest(
    directory: Path | None = None, public_key: Ed25519PublicKey | None = None
) -> Checkpoint | None:
    """The validly signed checkpoint furthest along both chains, or None."""
    checkpoints, _ = load_all(directory, public_key)
    valid = [c for c in checkpoints if c.signature_valid]
    return valid[-1] if valid else None
