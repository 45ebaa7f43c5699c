"""The lock on a downtime snapshot: AES-256-GCM under a key derived from the ward's
passphrase with PBKDF2-SHA256 — the two primitives every browser's WebCrypto has, so
the file opens on an offline PC with nothing installed.

The server keeps only the derived key (never the passphrase), so writing a snapshot
costs no key derivation; the file carries the salt and iteration count so the page can
derive the same key from what the nurse types. The visible header (where, when made)
is bound to the ciphertext as associated data: an old file cannot be relabelled as
fresh without the page refusing it. The SHA-256 of the ciphertext, also in the header,
tells a damaged file from a wrong passphrase.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from ajeya.core.errors import ValidationFailed

FORMAT = "ajeya-downtime/1"
ITERATIONS = 600_000  # OWASP's figure for PBKDF2-HMAC-SHA256 (2023)
SALT_BYTES, NONCE_BYTES = 16, 12
# No 0/O, 1/I/L: a passphrase read off paper by a tired nurse at 3 a.m.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
GROUPS, GROUP_LENGTH = 5, 4  # 20 symbols, about 99 bits


class DamagedSnapshot(ValidationFailed):
    """The file is not what the server wrote (cut short, edited, not a snapshot)."""

    def __init__(self, problem: str):
        super().__init__(f"This is not a usable downtime snapshot: {problem}.")


def new_passphrase() -> str:
    return "-".join(
        "".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(GROUPS)
    )


def normalise_passphrase(text: str) -> str:
    """What the page does too: upper case, no spaces or dashes."""
    return re.sub(r"[\s-]", "", text).upper()


def derive_key(passphrase: str, salt: bytes, iterations: int = ITERATIONS) -> bytes:
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=iterations)
    return kdf.derive(normalise_passphrase(passphrase).encode())


def new_salt() -> bytes:
    return os.urandom(SALT_BYTES)


@dataclass(frozen=True)
class Header:
    location: str  # "ward:MED1" or "opd:MED"
    title: str
    made_at: str  # ISO 8601 UTC
    made_at_text: str  # as staff read it, IST
    salt: str  # base64
    iterations: int
    nonce: str  # base64
    digest: str  # SHA-256 hex of the ciphertext

    def associated_data(self) -> bytes:
        """What the tag also covers; the page rebuilds the same bytes."""
        return f"{FORMAT}|{self.location}|{self.made_at}|{self.salt}|{self.iterations}".encode()

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, **self.__dict__}, sort_keys=True)


def seal(
    html: str, *, key: bytes, salt: bytes, iterations: int, location: str, title: str,
    made_at: str, made_at_text: str,
) -> tuple[Header, str]:  # fmt: skip
    """gzip, then encrypt: (header, base64 ciphertext)."""
    nonce = os.urandom(NONCE_BYTES)
    draft = Header(location, title, made_at, made_at_text, _b64(salt), iterations, _b64(nonce), "")
    body = AESGCM(key).encrypt(
        nonce, gzip.compress(html.encode(), compresslevel=6, mtime=0), draft.associated_data()
    )
    header = Header(**{**draft.__dict__, "digest": hashlib.sha256(body).hexdigest()})
    return header, _b64(body)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# -- reading a file back (ajeya downtime check; tests) ------------------------------------

_HEADER = re.compile(r'<script type="application/json" id="snapshot-header">(.*?)</script>', re.S)
_BODY = re.compile(r'<script type="text/plain" id="snapshot-body">([A-Za-z0-9+/=\s]*)</script>')


def read_header(document: str) -> tuple[Header, bytes]:
    """The header and ciphertext of a snapshot file; DamagedSnapshot names what is wrong."""
    found, body = _HEADER.search(document), _BODY.search(document)
    if found is None or body is None:
        raise DamagedSnapshot("not an Ajeya downtime snapshot, or cut short")
    try:
        raw = json.loads(found.group(1))
        if raw.pop("format") != FORMAT:
            raise DamagedSnapshot("a snapshot of another format version")
        header = Header(**raw)
        ciphertext = base64.b64decode("".join(body.group(1).split()), validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise DamagedSnapshot(f"its header is damaged ({exc})") from None
    if hashlib.sha256(ciphertext).hexdigest() != header.digest:
        raise DamagedSnapshot(
            "its contents do not match the checksum the server wrote: damaged or altered"
        )
    return header, ciphertext


def open_document(document: str, passphrase: str) -> tuple[Header, str]:
    """Decrypt a snapshot as the page does: (header, inner HTML)."""
    header, ciphertext = read_header(document)
    key = derive_key(passphrase, base64.b64decode(header.salt), header.iterations)
    try:
        packed = AESGCM(key).decrypt(
            base64.b64decode(header.nonce), ciphertext, header.associated_data()
        )
    except InvalidTag:
        raise ValidationFailed(
            {"passphrase": ["Wrong passphrase for this snapshot (or its header was altered)."]}
        ) from None
    return header, gzip.decompress(packed).decode()
