"""Authenticity (spec section 6): Ed25519 signatures of the patch manifest against pinned keys."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# Verdicts, named as the spec's table names them.
OK = "ok"
INVALID = "invalid"
UNKNOWN_KEY = "unknown-key"
UNSIGNED = "unsigned"


def key_id(public_key: Ed25519PublicKey) -> str:
    """The first 16 hex characters of the SHA-256 of the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_pinned_keys(paths: list[str]) -> dict[str, Ed25519PublicKey]:
    """PEM SubjectPublicKeyInfo files (as `fleet keys generate` writes them), by keyId.
    Several at once, so a publisher can rotate keys. Raises ValueError for a file that is not one."""
    keys: dict[str, Ed25519PublicKey] = {}
    for path in paths:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"{path}: not an Ed25519 public key")
        keys[key_id(key)] = key
    return keys


def manifest_bytes(name: str, version: str, sha256: str, size: int) -> bytes:
    """Exactly {"name","version","sha256","size"}, in this order, no spaces, UTF-8."""
    manifest = {"name": name, "version": version, "sha256": sha256, "size": size}
    return json.dumps(manifest, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass
class Verdict:
    result: str  # OK, INVALID, UNKNOWN_KEY or UNSIGNED
    key_id: str | None = None

    def acceptable(self, require_signature: bool) -> bool:
        # The table in section 6: an invalid signature by a pinned key is always refused;
        # unknown keys and unsigned patches only when the device requires signatures.
        if self.result == OK:
            return True
        if self.result == INVALID:
            return False
        return not require_signature

    def error(self) -> str:
        suffix = f" (keyId {self.key_id})" if self.key_id else ""
        return f"signature {self.result}{suffix}"


def check_patch(patch: dict[str, Any], keys: dict[str, Ed25519PublicKey]) -> Verdict:
    signature = patch.get("signature")
    if not signature:
        return Verdict(UNSIGNED)
    kid = signature.get("keyId")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        return Verdict(UNKNOWN_KEY, kid if isinstance(kid, str) else None)
    artifact = patch.get("artifact") or {}
    try:
        value = base64.b64decode(signature.get("value", ""), validate=True)
        message = manifest_bytes(patch["name"], patch["version"], artifact["sha256"], artifact["size"])
        key.verify(value, message)
    except (InvalidSignature, binascii.Error, KeyError, TypeError, ValueError):
        return Verdict(INVALID, kid)
    return Verdict(OK, kid)
