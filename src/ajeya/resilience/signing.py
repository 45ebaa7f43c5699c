"""Signed JSON documents on a backup target: snapshot manifests and ledger segments.

Signed with the server's Ed25519 key (the ledger's checkpoint key); checked on restore
against the public key carried in the offline backup key file, never one found on the
target, so a replaced manifest is refused even if its signature is valid for some key.
"""

from __future__ import annotations

import base64

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ajeya.core.errors import ApplicationError
from ajeya.ledger import checkpoints
from ajeya.ledger.canonical import canonical_bytes


class SignatureError(ApplicationError):
    code = "backup-signature"


def sign(doc: dict, key: Ed25519PrivateKey) -> bytes:
    body = {k: v for k, v in doc.items() if k not in {"signature", "key_id"}}
    body["key_id"] = checkpoints.key_id(key.public_key())
    signature = key.sign(canonical_bytes(body))
    return orjson.dumps(
        {**body, "signature": base64.b64encode(signature).decode()},
        option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2,
    )


def load(data: bytes, trusted: Ed25519PublicKey, *, name: str, kind: str) -> dict:
    """Parse and check a signed document; every refusal names the object."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise SignatureError(f"{name} is not a readable {kind} (damaged or replaced)") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("signature"), str):
        raise SignatureError(f"{name} is not a signed {kind} (damaged or replaced)")
    body = {k: v for k, v in doc.items() if k != "signature"}
    try:
        trusted.verify(base64.b64decode(doc["signature"], validate=True), canonical_bytes(body))
    except (InvalidSignature, ValueError):
        raise SignatureError(
            f"{name}: the signature does not verify against this hospital's signing key "
            f"{checkpoints.key_id(trusted)} (replaced or altered)"
        ) from None
    return body
