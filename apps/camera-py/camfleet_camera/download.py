"""Fetching an artifact (spec section 6): HTTP Range resume guarded by If-Range, SHA-256 and size
checked as the bytes arrive, an optional rate limit. Pure HTTP: nothing here knows the WebSocket."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable
from urllib.parse import urlsplit

CHUNK_BYTES = 64 * 1024
HTTP_TIMEOUT_S = 30.0


class DownloadError(Exception):
    """The attempt cannot go on with this download (an unexpected answer): report `failed`."""


class Forbidden(DownloadError):
    """403: not (or no longer) this device's artifact. The attempt ended on the server."""


class IntegrityError(DownloadError):
    """The bytes are not the artifact (size or SHA-256). The partial file is already deleted."""


class RetryLater(Exception):
    """Cut off, refused for now (429, 503) or unreachable: keep the partial file and resume later."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass
class Transfer:
    resumed_from: int  # where this request started (0: from scratch)
    bytes: int  # the file's length after it
    http_status: int | None  # None: nothing had to be fetched (the partial file was whole)


OnBytes = Callable[[int], Awaitable[None]]


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _hash_file(path: Path) -> tuple["hashlib._Hash", int]:
    digest = hashlib.sha256()
    length = 0
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
            length += len(chunk)
    return digest, length


class _Pacer:
    """Sleeps so the transfer stays at or under `rate` bytes a second (tests cut or cancel mid-way)."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.start = time.monotonic()
        self.sent = 0

    def chunk_size(self) -> int:
        if not self.rate:
            return CHUNK_BYTES
        return max(1, min(CHUNK_BYTES, int(self.rate / 10)))  # about ten reads a second

    async def account(self, n: int) -> None:
        self.sent += n
        if self.rate:
            ahead = self.sent / self.rate - (time.monotonic() - self.start)
            if ahead > 0:
                await asyncio.sleep(ahead)


async def fetch(
    url: str,
    *,
    authorization: str | None,
    part: Path,
    size: int,
    sha256: str,
    rate: float | None = None,
    on_bytes: OnBytes | None = None,
) -> Transfer:
    """Download `url` into `part` (resuming what is there) and verify it. Returns when the file is
    whole and verified; raises RetryLater (resume later), Forbidden, IntegrityError or DownloadError."""
    for _ in range(2):  # a second round only after a 416 (the partial file was wrong)
        have = part.stat().st_size if part.exists() else 0
        if have > size:
            part.unlink()
            have = 0
        digest, have = _hash_file(part) if have else (hashlib.sha256(), 0)
        if have == size:
            _check(part, digest, have, size, sha256)
            return Transfer(resumed_from=have, bytes=have, http_status=None)
        status, digest = await _get(url, authorization, part, have, digest, size, sha256, rate, on_bytes)
        if status == 416:
            part.unlink(missing_ok=True)
            continue
        total = part.stat().st_size
        _check(part, digest, total, size, sha256)
        return Transfer(resumed_from=have if status == 206 else 0, bytes=total, http_status=status)
    raise DownloadError("download: 416 Range Not Satisfiable from scratch")


def _check(part: Path, digest: "hashlib._Hash", length: int, size: int, sha256: str) -> None:
    # A mismatch is a failed attempt and the file is never installed (section 6, "Integrity").
    if length != size:
        part.unlink(missing_ok=True)
        raise IntegrityError(f"size mismatch: expected {size}, got {length}")
    got = digest.hexdigest()
    if got != sha256.lower():
        part.unlink(missing_ok=True)
        raise IntegrityError(f"checksum mismatch: expected {sha256}, got {got}")


async def _get(
    url: str,
    authorization: str | None,
    part: Path,
    have: int,
    digest: "hashlib._Hash",
    size: int,
    sha256: str,
    rate: float | None,
    on_bytes: OnBytes | None,
) -> tuple[int, "hashlib._Hash"]:
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname or "", parts.port, timeout=HTTP_TIMEOUT_S)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    # A pod's URL takes the device's credential; a presigned one (authorization None) must not.
    headers = {"Authorization": authorization} if authorization else {}
    if have:
        headers["Range"] = f"bytes={have}-"
        if authorization:
            # If-Range with the pod's ETag (the quoted sha256): a 206 only if it is still the same
            # file. An object store's ETag is not the sha256, and the object under a digest's name
            # never changes.
            headers["If-Range"] = f'"{sha256}"'
    try:
        try:
            await asyncio.to_thread(conn.request, "GET", path, headers=headers)
            resp = await asyncio.to_thread(conn.getresponse)
        except (OSError, http.client.HTTPException) as e:
            raise RetryLater(f"download: {e or type(e).__name__}") from None
        status = resp.status
        if status == 403:
            raise Forbidden("download: 403 artifact not available to these credentials")
        if status in (429, 503) or status >= 500:
            raise RetryLater(f"download: HTTP {status}", _retry_after(resp.getheader("Retry-After")))
        if status == 416:
            return status, digest
        if status == 206:
            start = _content_range_start(resp.getheader("Content-Range"))
            if start != have:
                raise DownloadError(f"download: 206 from byte {start}, asked for {have}")
            mode = "ab"
        elif status == 200:
            # A whole file: the server could not (or would not) continue ours. Start over.
            digest = hashlib.sha256()
            mode = "wb"
        else:
            raise DownloadError(f"download: unexpected HTTP {status}")
        pacer = _Pacer(rate)
        total = have if status == 206 else 0
        with open(part, mode) as f:
            while True:
                try:
                    chunk = await asyncio.to_thread(resp.read, pacer.chunk_size())
                except (OSError, http.client.HTTPException) as e:
                    raise RetryLater(f"download cut at {total} bytes: {e or type(e).__name__}") from None
                if not chunk:
                    break
                f.write(chunk)
                f.flush()  # what is in the file is what a resume continues from
                digest.update(chunk)
                total += len(chunk)
                if on_bytes is not None:
                    await on_bytes(total)
                await pacer.account(len(chunk))
        if total < size and resp.length != 0:
            # http.client ends a body cut short without an error: it is a cut, not a bad file.
            # (resp.length is what the Content-Length still promised; 0 means the answer was whole.)
            raise RetryLater(f"download cut at {total} of {size} bytes")
        return status, digest
    finally:
        # Wakes a worker thread still blocked in recv() when the task was cancelled.
        sock = conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        conn.close()


def _content_range_start(value: str | None) -> int | None:
    # "bytes 5-13/14"
    try:
        return int((value or "").split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None
