"""Offers, cancels and reports (spec sections 5 and 6): one delivery at work at a time, every
report sent until it is answered (and again after a reconnect), refusals acted on by fleetCode."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import download, verify
from .connection import Connection, ConnectionLost
from .frames import RpcError
from .log import log
from .state import StateDir

FINAL = ("installed", "succeeded", "failed", "canceled")
RETRYABLE_CODES = ("SERVICE_UNAVAILABLE", "INTERNAL_SERVER_ERROR", "TOO_MANY_REQUESTS")
MAX_DOWNLOAD_FAILURES = 10  # HTTP failures in a row, while connected and without progress
ERROR_MAX = 1024
# Control characters the server refuses in `error` (it turns tab, CR and LF into spaces itself).
_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


class Link(Protocol):
    """What a delivery needs from the session: the current registered connection, and more."""

    @property
    def authorization(self) -> str: ...  # "Device <id>:<secret>" for artifact downloads

    async def ready(self) -> Connection: ...  # waits for a registered connection (reports resent)

    def restart(self) -> None: ...  # --reboot: close, reconnect and register the new version


@dataclass
class Options:
    keys: dict[str, Ed25519PublicKey]
    require_signature: bool
    download_rate: float | None
    reboot: bool
    progress_interval_s: float


def clean_error(text: str) -> str:
    return _REFUSED.sub("?", text)[:ERROR_MAX] or "error"


class ReportRefused(Exception):
    def __init__(self, error: RpcError) -> None:
        super().__init__(str(error))
        self.error = error


class Reporter:
    """Sends one report at a time and waits for its answer. A report whose answer was lost with the
    connection stays pending and is sent again on the next connection, before the subscribe
    (section 7, step 3). Reports are idempotent, so a repeat only comes back `duplicate: true`."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._pending: tuple[dict[str, Any], asyncio.Future[dict[str, Any]]] | None = None
        self._conn: Connection | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # asyncio keeps only weak references

    async def send(self, report: dict[str, Any]) -> dict[str, Any]:
        async with self._lock:  # one at a time: reports of an attempt stay in order
            fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._pending = (report, fut)
            if self._conn is not None:
                task = asyncio.get_running_loop().create_task(self._try(self._conn))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return await fut

    async def connected(self, conn: Connection) -> None:
        """Called by the session right after `device.register`: re-sends the unanswered report
        (even if whoever sent it stopped waiting: it may have changed the server's state)."""
        self._conn = conn
        if self._pending is not None:
            await self._try(conn)

    def disconnected(self) -> None:
        self._conn = None

    async def _try(self, conn: Connection) -> None:
        if self._pending is None:
            return
        report, fut = self._pending
        ids = {"deliveryId": report["deliveryId"], "attempt": report["attempt"], "status": report["status"]}
        while True:
            try:
                answer = await conn.call("device.report", report)
            except ConnectionLost:
                return  # stays pending: re-sent after the reconnect
            except RpcError as e:
                code = e.fleet_code or e.data_code
                if e.fleet_code == "UNAVAILABLE" or e.data_code in RETRYABLE_CODES:
                    log("report", **ids, errorCode=code, retry=True)
                    await asyncio.sleep(e.retry_after_s or 1.0 + random.random())  # the same report, later
                    if self._pending is not None and self._pending[1] is fut:
                        continue
                    return
                log("report", **ids, errorCode=code, message=e.message)
                self._settle(fut)
                if not fut.done():
                    fut.set_exception(ReportRefused(e))
                return
            extra = {k: report[k] for k in ("progress", "bytes") if k in report}
            log("report", **ids, state=answer.get("state"), duplicate=answer.get("duplicate"), **extra)
            self._settle(fut)
            if not fut.done():
                fut.set_result(answer)
            return

    def _settle(self, fut: asyncio.Future[dict[str, Any]]) -> None:
        if self._pending is not None and self._pending[1] is fut:
            self._pending = None


class Job:
    """One attempt of one delivery: verify, download, install, report."""

    def __init__(self, worker: "Worker", offer: dict[str, Any], after: "Job | None") -> None:
        self.worker = worker
        self.offer = offer
        self.offer_id: str = offer["offerId"]
        self.delivery_id: str = offer["deliveryId"]
        self.attempt: int = offer["attempt"]
        self.patch: dict[str, Any] = offer["patch"]
        self.artifact: dict[str, Any] | None = self.patch.get("artifact")
        self.ack_timeout_s = max(float(offer.get("ackTimeoutMs") or 60000) / 1000, 3.0)
        self.phase = "verify"  # verify → download → apply (cannot be stopped) → done
        self.cancel_requested = False
        self.last_report_at = time.monotonic()
        self._work: asyncio.Task[None] | None = None
        self.task = asyncio.get_running_loop().create_task(self._run(after))

    # -- events --
    def request_cancel(self) -> bool:
        """A cancel for this attempt: honoured while the apply has not begun (section 5)."""
        if self.phase in ("apply", "final", "done"):
            return False
        self.cancel_requested = True
        if self._work is not None:
            self._work.cancel()
        return True

    def abandon(self) -> None:
        """The server moved on (a newer attempt, another delivery): stop without a report, unless
        the apply has begun or the outcome is on its way (a late outcome is still accepted)."""
        if self.phase not in ("apply", "final"):
            self.task.cancel()

    # -- the delivery --
    async def _run(self, after: "Job | None") -> None:
        if after is not None:
            with contextlib.suppress(BaseException):
                await after.task  # an apply in progress finishes before anything else starts
        try:
            while True:
                self.phase, self.cancel_requested = "verify", False
                self._work = asyncio.get_running_loop().create_task(self._prepare())
                try:
                    await self._work
                except _Finished:
                    return
                except asyncio.CancelledError:
                    if not (self.cancel_requested and self._work.cancelled()):
                        raise
                    if await self._canceled():
                        return
                    continue  # the server knew of no cancel: carry on (from the start)
                break
            window = self.offer.get("installWindow")
            if isinstance(window, dict) and time.time() * 1000 >= float(window.get("closesAt", 0)):
                # Its maintenance window closed before the install could begin (section 5): the
                # server offers the attempt again in the next window; the download is kept.
                self._outcome("window-closed")
                return
            await self._apply()
        except ReportRefused as e:
            self._refused(e.error)
        except download.Forbidden as e:
            # The attempt ended on the server (canceled, timed out): wait for the next event.
            self._outcome("abandoned", error=str(e))
        except asyncio.CancelledError:
            self._outcome("abandoned")
            raise
        except Exception as e:  # a bug or a broken disk: say so rather than go silent until the timeout
            log("error", message=f"delivery {self.offer_id}: {type(e).__name__}: {e}")
            with contextlib.suppress(Exception):
                await self._final({"status": "failed", "error": clean_error(f"camera error: {e}")})
        finally:
            self.phase = "done"
            self.worker.job_done(self)

    async def _prepare(self) -> None:
        """Signature, then download and integrity: everything a cancel may still stop."""
        opts = self.worker.options
        if self.patch.get("signature") or opts.require_signature:
            verdict = verify.check_patch(self.patch, opts.keys)
            log("verify", deliveryId=self.delivery_id, attempt=self.attempt, result=verdict.result,
                keyId=verdict.key_id)
            if not verdict.acceptable(opts.require_signature):
                await self._final({"status": "failed", "error": verdict.error()})
                raise _Finished()
        if self.artifact is not None:
            self.phase = "download"
            await self._download()
        window = self.offer.get("installWindow")
        if isinstance(window, dict):
            # Downloaded ahead of its maintenance window (section 5): the install waits for it to
            # open, and a cancel may still stop it meanwhile.
            wait_s = float(window.get("opensAt", 0)) / 1000 - time.time()
            if wait_s > 0:
                self.phase = "window"
                log("window-wait", deliveryId=self.delivery_id, attempt=self.attempt, seconds=round(wait_s, 3))
                await asyncio.sleep(wait_s)

    async def _download(self) -> None:
        assert self.artifact is not None
        size: int = self.artifact["size"]
        sha: str = self.artifact["sha256"]
        part = self.worker.state.part_path(sha)
        progress = _Progress(self, size)
        progress.bytes = min(_length(part), size)
        await progress.send()  # "downloading" at once: the offer's deadline is short
        failures = 0
        url: str = self.artifact["url"]
        refreshed = False
        while True:
            conn = await self.worker.link.ready()
            resumed_from = _length(part)
            # A presigned (absolute) URL carries its own signature: no credentials (section 6).
            presigned = urlsplit(url).scheme in ("http", "https")
            fetch = asyncio.get_running_loop().create_task(download.fetch(
                urljoin(conn.base_url, url),
                authorization=None if presigned else self.worker.link.authorization,
                part=part, size=size, sha256=sha, rate=self.worker.options.download_rate,
                on_bytes=progress.on_bytes))
            either: set[asyncio.Future[Any]] = {fetch, conn.closed}
            try:
                while not fetch.done() and not conn.closed.done():
                    await asyncio.wait(either, timeout=progress.heartbeat_in(), return_when=asyncio.FIRST_COMPLETED)
                    if not fetch.done() and not conn.closed.done() and progress.heartbeat_in() <= 0:
                        await progress.send()  # a stalled or slow transfer still reports
            finally:
                if not fetch.done():
                    # Never leave a transfer appending to the file behind us (canceled, abandoned,
                    # a refused report, or the connection moved).
                    fetch.cancel()
                    with contextlib.suppress(BaseException):
                        await fetch
                    if not conn.closed.done():
                        self._log_download(part, resumed_from, size, cut="stopped")
            if fetch.cancelled():
                # The connection moved: resume from whichever pod we reach next.
                self._log_download(part, resumed_from, size, cut="reconnect")
                continue
            try:
                fetch.result()
            except download.RetryLater as e:
                failures = 0 if _length(part) > resumed_from else failures + 1
                self._log_download(part, resumed_from, size, cut=str(e))
                if failures >= MAX_DOWNLOAD_FAILURES:
                    await self._final({"status": "failed", "error": clean_error(str(e))})
                    raise _Finished() from None
                await progress.pause(e.retry_after_s or min(10.0, 0.5 * 2 ** failures) * random.random())
                continue
            except download.Forbidden:
                self._log_download(part, resumed_from, size, cut="403")
                # Refreshed already and still refused, with nothing fetched since: not an expiry.
                if not presigned or (refreshed and _length(part) == resumed_from):
                    raise
                # The presigned URL expired: a fresh one (refused like a report if the attempt ended).
                try:
                    fresh = await conn.call("device.artifactUrl", {"deliveryId": self.delivery_id, "attempt": self.attempt})
                except RpcError as e:
                    raise ReportRefused(e) from None
                url, refreshed = str(fresh["url"]), True
                continue
            except ReportRefused:
                self._log_download(part, resumed_from, size, cut="report refused")
                raise
            except download.DownloadError as e:  # IntegrityError too: the file is already deleted
                self._log_download(part, resumed_from, size, cut=str(e))
                await self._final({"status": "failed", "error": clean_error(str(e))})
                raise _Finished() from None
            self._log_download(part, resumed_from, size)
            await progress.finish()
            return

    async def _apply(self) -> None:
        # From here a cancel is ignored: the device is writing the image (section 5).
        self.phase = "apply"
        state = self.worker.state
        await self._report({"status": "installing"})
        if self.artifact is not None:
            os.replace(state.part_path(self.artifact["sha256"]), state.installed_path)
        version: str = self.patch["version"]
        state.save_firmware(version)
        self.worker.firmware = version
        if self.worker.options.reboot:
            await self._final({"status": "installed"})
            self.worker.link.restart()  # comes back registering `version`, which completes it
        else:
            await self._final({"status": "succeeded", "firmwareVersion": version})

    async def _canceled(self) -> bool:
        """Delete the partial file and report `canceled`. False: the server knew of no cancel."""
        if self.artifact is not None:
            self.worker.state.part_path(self.artifact["sha256"]).unlink(missing_ok=True)
        try:
            await self._final({"status": "canceled"})
        except ReportRefused as e:
            if e.error.fleet_code == "INVALID_TRANSITION":
                log("error", message="canceled refused: no cancel was requested; carrying on",
                    deliveryId=self.delivery_id, attempt=self.attempt)
                return False
            raise
        return True

    # -- reports --
    async def _report(self, fields: dict[str, Any]) -> dict[str, Any]:
        report = {"deliveryId": self.delivery_id, "attempt": self.attempt, **fields}
        self.last_report_at = time.monotonic()
        answer = await self.worker.reporter.send(report)
        self.last_report_at = time.monotonic()
        return answer

    async def _final(self, fields: dict[str, Any]) -> None:
        # Remember it first: a re-offer of this attempt is answered with it, not installed again.
        report = {"deliveryId": self.delivery_id, "attempt": self.attempt, **fields}
        self.worker.state.save_outcome(self.offer_id, report)
        self.phase = "final"
        await self._report(fields)
        self._outcome(fields["status"], error=fields.get("error"))

    def _refused(self, error: RpcError) -> None:
        code = error.fleet_code or error.data_code
        if code in ("DELIVERY_FINISHED", "NOT_FOUND") and self.artifact is not None:
            # Forget the delivery, and what was downloaded for it.
            self.worker.state.part_path(self.artifact["sha256"]).unlink(missing_ok=True)
        # STALE_ATTEMPT keeps the partial file: the newer attempt is usually the same bytes.
        self._outcome({"STALE_ATTEMPT": "stale", "DELIVERY_FINISHED": "finished"}.get(code or "", "refused"),
                      error=str(error))

    def _outcome(self, status: str, error: str | None = None) -> None:
        fields: dict[str, Any] = {"deliveryId": self.delivery_id, "attempt": self.attempt, "status": status}
        if error:
            fields["error"] = error
        log("outcome", **fields)

    def _log_download(self, part: Path, resumed_from: int, size: int, cut: str | None = None) -> None:
        have = _length(part)
        fields: dict[str, Any] = {"deliveryId": self.delivery_id, "attempt": self.attempt, "bytes": have,
                                  "size": size, "resumedFrom": resumed_from, "complete": cut is None}
        if cut:
            fields["cut"] = cut
        log("download", **fields)


class _Finished(Exception):
    """The attempt ended in _prepare with a final report already sent."""


def _percent(done: int, size: int) -> int:
    return 100 if size <= 0 else min(100, done * 100 // size)


class _Progress:
    """`downloading` reports: at most once per --progress-interval, at each 25 %, and at least once
    per ackTimeoutMs/3 (every accepted report moves the attempt's deadline, section 5)."""

    def __init__(self, job: Job, size: int) -> None:
        self.job = job
        self.size = size
        self.bytes = 0
        self.quarter = 0
        self.reported = -1

    async def on_bytes(self, total: int) -> None:
        self.bytes = total
        quarter = 4 if self.size <= 0 else total * 4 // self.size
        due = time.monotonic() - self.job.last_report_at >= self.job.worker.options.progress_interval_s
        if quarter > self.quarter or due:
            self.quarter = max(self.quarter, quarter)
            await self.send()

    async def finish(self) -> None:
        if self.reported != self.size:
            self.bytes = self.size
            await self.send()

    def heartbeat_in(self) -> float:
        """Seconds until a report is due anyway (ackTimeoutMs/3 after the last one)."""
        return max(0.0, self.job.ack_timeout_s / 3 - (time.monotonic() - self.job.last_report_at))

    async def pause(self, seconds: float) -> None:
        """Sleep (before a retry) without letting the attempt's deadline pass."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(left, self.heartbeat_in()))
            if self.heartbeat_in() <= 0:
                await self.send()

    async def send(self) -> None:
        self.reported = self.bytes
        await self.job._report({"status": "downloading", "progress": _percent(self.bytes, self.size),
                                "bytes": self.bytes})


def _length(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


class Worker:
    """Turns events of `device.offers` into at most one running Job (section 5, "Events")."""

    def __init__(self, link: Link, state: StateDir, options: Options, firmware: str) -> None:
        self.link = link
        self.state = state
        self.options = options
        self.firmware = firmware
        self.reporter = Reporter()
        self.job: Job | None = None
        self.last_event_id: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def on_event(self, event_id: str | None, event: Any) -> None:
        if event_id is not None:
            self.last_event_id = event_id
        if not isinstance(event, dict):
            return
        if event.get("type") == "offer" and isinstance(event.get("offer"), dict):
            self._on_offer(event["offer"])
        elif event.get("type") == "cancel":
            self._on_cancel(event.get("deliveryId"), event.get("attempt"), event.get("reason"))
        # Unknown event types are ignored: new ones may be added.

    def _on_offer(self, offer: dict[str, Any]) -> None:
        offer_id = offer.get("offerId")
        patch = offer.get("patch") or {}
        known = self.state.load_outcomes().get(offer_id) if isinstance(offer_id, str) else None
        working = self.job is not None and self.job.offer_id == offer_id and not self.job.task.done()
        log("offer", deliveryId=offer.get("deliveryId"), attempt=offer.get("attempt"), offerId=offer_id,
            version=patch.get("version"), carryOn=working, known=known is not None)
        if working:
            return  # the attempt already at work: carry on (a resume, not a restart)
        if known is not None:
            # Finished here already (its answer may have been lost): answer again, do not install again.
            self._spawn(self._repeat(known))
            return
        previous = self.job
        if previous is not None and not previous.task.done():
            previous.abandon()  # a newer attempt or another delivery: the server moved on
        self.job = Job(self, offer, previous)

    async def _repeat(self, report: dict[str, Any]) -> None:
        with contextlib.suppress(ReportRefused):
            await self.reporter.send(report)

    def _on_cancel(self, delivery_id: Any, attempt: Any, reason: Any) -> None:
        job = self.job
        mine = job is not None and job.delivery_id == delivery_id and job.attempt == attempt and not job.task.done()
        honoured = bool(mine and job is not None and job.request_cancel())
        log("cancel", deliveryId=delivery_id, attempt=attempt, reason=reason, mine=mine, honoured=honoured)

    def job_done(self, job: Job) -> None:
        if self.job is job:
            self.job = None

    def stop(self) -> None:
        if self.job is not None:
            self.job.task.cancel()
        for task in self._tasks:
            task.cancel()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
