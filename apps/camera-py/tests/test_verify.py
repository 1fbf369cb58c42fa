import base64
import hashlib
import tempfile
import unittest
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from camfleet_camera import verify

SHA = "dbf1bce8c5e41be6f0c17880b1ed3033714b384b2c2232b1c7b4f3fda822b6ce"


def _pem(key: Ed25519PrivateKey, directory: str, name: str) -> str:
    path = Path(directory) / f"{name}.pub.pem"
    path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo))
    return str(path)


def _patch(key: Ed25519PrivateKey | None, key_id: str | None = None, version: str = "2.0.0") -> dict[str, Any]:
    patch = {"name": "fw", "version": version, "artifact": {"sha256": SHA, "size": 14, "url": "/x"},
             "signature": None}
    if key is not None:
        value = key.sign(verify.manifest_bytes("fw", "2.0.0", SHA, 14))
        patch["signature"] = {"keyId": key_id or verify.key_id(key.public_key()),
                              "value": base64.b64encode(value).decode()}
    return patch


class VerifyTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.pinned = Ed25519PrivateKey.generate()
        self.other = Ed25519PrivateKey.generate()
        self.keys = verify.load_pinned_keys([_pem(self.pinned, self.dir.name, "pinned")])

    def tearDown(self) -> None:
        self.dir.cleanup()

    def test_manifest_bytes_are_the_spec_example(self) -> None:
        self.assertEqual(
            verify.manifest_bytes("fw", "2.0.0", SHA, 14),
            b'{"name":"fw","version":"2.0.0","sha256":"' + SHA.encode() + b'","size":14}',
        )

    def test_key_id_is_sha256_of_raw_key(self) -> None:
        raw = self.pinned.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        kid = verify.key_id(self.pinned.public_key())
        self.assertEqual(kid, hashlib.sha256(raw).hexdigest()[:16])
        self.assertEqual(list(self.keys), [kid])

    def test_pinned_and_valid(self) -> None:
        v = verify.check_patch(_patch(self.pinned), self.keys)
        self.assertEqual(v.result, verify.OK)
        self.assertTrue(v.acceptable(require_signature=True))

    def test_pinned_key_id_but_bad_signature_is_always_refused(self) -> None:
        forged = _patch(self.other, key_id=verify.key_id(self.pinned.public_key()))
        v = verify.check_patch(forged, self.keys)
        self.assertEqual(v.result, verify.INVALID)
        self.assertFalse(v.acceptable(require_signature=False))
        self.assertIn("signature invalid", v.error())

    def test_tampered_manifest_is_invalid(self) -> None:
        self.assertEqual(verify.check_patch(_patch(self.pinned, version="2.0.1"), self.keys).result, verify.INVALID)

    def test_garbage_signature_value_is_invalid(self) -> None:
        patch = _patch(self.pinned)
        patch["signature"]["value"] = "!!!"
        self.assertEqual(verify.check_patch(patch, self.keys).result, verify.INVALID)

    def test_unknown_key(self) -> None:
        v = verify.check_patch(_patch(self.other), self.keys)
        self.assertEqual(v.result, verify.UNKNOWN_KEY)
        self.assertTrue(v.acceptable(require_signature=False))
        self.assertFalse(v.acceptable(require_signature=True))

    def test_unsigned(self) -> None:
        v = verify.check_patch(_patch(None), self.keys)
        self.assertEqual(v.result, verify.UNSIGNED)
        self.assertTrue(v.acceptable(require_signature=False))
        self.assertFalse(v.acceptable(require_signature=True))
        self.assertEqual(v.error(), "signature unsigned")

    def test_several_pinned_keys(self) -> None:
        keys = verify.load_pinned_keys([_pem(self.pinned, self.dir.name, "a"), _pem(self.other, self.dir.name, "b")])
        self.assertEqual(verify.check_patch(_patch(self.other), keys).result, verify.OK)

    def test_not_an_ed25519_pem(self) -> None:
        path = Path(self.dir.name) / "bad.pem"
        path.write_text("not a key")
        with self.assertRaises(ValueError):
            verify.load_pinned_keys([str(path)])


if __name__ == "__main__":
    unittest.main()
