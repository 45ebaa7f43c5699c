"""The backup key: encrypt to its public half on the server, decrypt with the private
half kept off it.

`ajeya keys init` makes an age (X25519) key pair. The private half goes to a place the
operator chooses (a USB stick, a printout) in a file that `age -d -i FILE` also reads;
the server keeps only the public half, so a thief on the server can neither read the
backups nor decrypt them later. The same file carries the public half of the server's
Ed25519 signing key (the ledger's), so a restore on a clean machine knows which
signatures to trust without trusting anything it finds on the backup target.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from pyrage import x25519

from ajeya.core import clock
from ajeya.core.errors import ApplicationError
from ajeya.ledger import checkpoints

SIGNER_PREFIX = "# ajeya-signer: "


class BackupKeyError(ApplicationError):
    code = "backup-key"
    exit_code = 2


@dataclass(frozen=True)
class RestoreKey:
    """What `ajeya restore --key FILE` holds: the private backup key and the signer."""

    identity: x25519.Identity
    signer: Ed25519PublicKey
    path: Path

    @property
    def recipient(self) -> str:
        return str(self.identity.to_public())


@dataclass(frozen=True)
class Made:
    private_path: Path
    public_path: Path
    recipient: str
    signer_id: str
    secret_text: str


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def init(out_dir: Path, *, public_path: Path | None = None) -> Made:
    """Make the backup key pair (and the signing key if the server has none yet).

    Refuses to replace a backup key already on the server: backups made to it would
    need the old private key, so replacing it is a decision, not a default."""
    public_path = Path(public_path or settings.AJEYA_BACKUP_PUBLIC_KEY)
    if public_path.exists():
        raise BackupKeyError(
            f"{public_path} already exists: this server already has a backup key "
            "(move it away first if you really mean to start a new one)"
        )
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise BackupKeyError(f"{out_dir} is not a directory: give where the private key goes")
    private_signing = Path(settings.AJEYA_LEDGER_SIGNING_KEY)
    if not private_signing.exists():
        checkpoints.generate_keys(private_signing, Path(settings.AJEYA_LEDGER_PUBLIC_KEY))
    signer = checkpoints.load_private_key().public_key()
    identity = x25519.Identity.generate()
    recipient = str(identity.to_public())
    code = settings.AJEYA_HOSPITAL_CODE
    private_path = out_dir / f"ajeya-backup-key-{code}-{recipient[4:12]}.txt"
    text = (
        f"# Ajeya backup key of {settings.AJEYA_HOSPITAL_NAME} (hospital {code})\n"
        f"# made {clock.now().isoformat(timespec='seconds')}; public half: {recipient}\n"
        "# Keep this file OFF the server (USB in a safe, a printout). Every restore needs\n"
        "# it; `age -d -i THIS_FILE` opens any backup object too.\n"
        f"{SIGNER_PREFIX}{base64.b64encode(_raw(signer)).decode()}\n"
        f"{identity}\n"
    )
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupKeyError(f"{private_path} already exists; refusing to overwrite it") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    public_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.write_text(recipient + "\n")
    return Made(private_path, public_path, recipient, checkpoints.key_id(signer), text)


def recipient() -> x25519.Recipient:
    """The public key backups are encrypted to (on the server)."""
    path = Path(settings.AJEYA_BACKUP_PUBLIC_KEY)
    if not path.exists():
        raise BackupKeyError(
            f"no backup public key at {path}: run `ajeya keys init --out DIR` first"
        )
    text = path.read_text(errors="replace").strip()
    try:
        return x25519.Recipient.from_str(text)
    except Exception:
        raise BackupKeyError(f"{path} does not hold an age public key (age1…)") from None


def load_restore_key(path: Path) -> RestoreKey:
    """Read the private backup key file made by `ajeya keys init`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BackupKeyError(f"no key file at {path}") from None
    except (UnicodeDecodeError, IsADirectoryError):
        raise BackupKeyError(f"{path} is not a backup key file") from None
    identity = signer = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(SIGNER_PREFIX):
            try:
                signer = Ed25519PublicKey.from_public_bytes(
                    base64.b64decode(line[len(SIGNER_PREFIX) :], validate=True)
                )
            except ValueError:
                raise BackupKeyError(f"{path}: the signer line is damaged") from None
        elif line.startswith("AGE-SECRET-KEY-"):
            try:
                identity = x25519.Identity.from_str(line)
            except Exception:
                raise BackupKeyError(f"{path}: the private key line is damaged") from None
    if identity is None:
        raise BackupKeyError(f"{path} holds no private backup key (AGE-SECRET-KEY-…)")
    if signer is None:
        raise BackupKeyError(f"{path} names no signer ({SIGNER_PREFIX.strip()} …)")
    return RestoreKey(identity, signer, path)
