"""The camera's state directory: what survives a restart (secret, firmware, partial downloads)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


class StateDir:
    def __init__(self, path: str | None) -> None:
        # Default: a fresh temp dir per run (a camera with no flash).
        self.path = Path(path) if path else Path(tempfile.mkdtemp(prefix="camfleet-camera-"))
        self.path.mkdir(parents=True, exist_ok=True)

    # -- the device secret (section 2): kept like a password, never logged --
    def load_secret(self) -> str | None:
        return self._read_text("secret")

    def save_secret(self, secret: str) -> None:
        self._write_text("secret", secret, mode=0o600)

    # -- the firmware version it runs: written after an install, it wins over --firmware --
    def load_firmware(self) -> str | None:
        return self._read_text("firmware")

    def save_firmware(self, version: str) -> None:
        self._write_text("firmware", version)

    # -- downloads, named by content so a resume is right whichever attempt or pod it is for --
    def part_path(self, sha256: str) -> Path:
        return self.path / f"{sha256}.part"

    @property
    def installed_path(self) -> Path:
        return self.path / "installed.bin"

    # -- final outcomes by offer id: a re-offered finished attempt is answered, not installed again --
    def load_outcomes(self) -> dict[str, dict[str, Any]]:
        text = self._read_text("outcomes.json")
        try:
            value = json.loads(text) if text else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def save_outcome(self, offer_id: str, report: dict[str, Any], keep: int = 20) -> None:
        outcomes = self.load_outcomes()
        outcomes.pop(offer_id, None)
        outcomes[offer_id] = report
        while len(outcomes) > keep:
            outcomes.pop(next(iter(outcomes)))
        self._write_text("outcomes.json", json.dumps(outcomes))

    def _read_text(self, name: str) -> str | None:
        try:
            return (self.path / name).read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def _write_text(self, name: str, text: str, mode: int = 0o644) -> None:
        # Write and rename: a crash never leaves half a secret or version behind.
        tmp = self.path / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path / name)
