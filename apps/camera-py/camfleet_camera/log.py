"""One JSON object per line on stdout, flushed, so tests and operators can follow the camera."""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def log(event: str, **fields: Any) -> None:
    # Never pass a secret here: every field is printed as is.
    record = {"t": int(time.time() * 1000), "event": event, **fields}
    sys.stdout.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def error(message: str, **fields: Any) -> None:
    log("error", message=message, **fields)
