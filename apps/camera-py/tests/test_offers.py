"""Reports and offers against a fake connection: resend after a lost answer, refusals, dedupe by offerId."""

import asyncio
import io
import sys
import tempfile
import unittest
from typing import Any, cast

from camfleet_camera.connection import CloseInfo, ConnectionLost
from camfleet_camera.frames import RpcError
from camfleet_camera.offers import Options, Reporter, ReportRefused, Worker, clean_error
from camfleet_camera.state import StateDir


_stdout = sys.stdout


def setUpModule() -> None:
    sys.stdout = io.StringIO()  # the camera's JSON log lines; unittest reports on stderr


def tearDownModule() -> None:
    sys.stdout = _stdout


class FakeConn:
    base_url = "http://127.0.0.1:1"

    def __init__(self, answers: list[Any] | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.answers = answers or []
        self.closed: asyncio.Future[CloseInfo] = asyncio.get_running_loop().create_future()

    async def call(self, path: str, input: Any) -> Any:
        self.sent.append(input)
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, BaseException):
            raise answer
        return answer or {"state": input["status"], "duplicate": False}


class FakeLink:
    authorization = "Device cam-1:s"

    def __init__(self, conn: FakeConn) -> None:
        self.conn = conn
        self.restarts = 0

    async def ready(self) -> Any:
        return self.conn

    def restart(self) -> None:
        self.restarts += 1


REPORT = {"deliveryId": "ro_1:cam-1", "attempt": 1, "status": "installing"}


class ReporterTest(unittest.IsolatedAsyncioTestCase):
    async def test_waits_for_a_connection(self) -> None:
        reporter, conn = Reporter(), FakeConn()
        task = asyncio.create_task(reporter.send(REPORT))
        await asyncio.sleep(0.01)
        self.assertFalse(task.done())
        await reporter.connected(cast(Any, conn))
        self.assertEqual((await task)["state"], "installing")
        self.assertEqual(conn.sent, [REPORT])

    async def test_resent_after_the_answer_was_lost(self) -> None:
        reporter = Reporter()
        first = FakeConn([ConnectionLost(CloseInfo(1006, ""))])
        await reporter.connected(cast(Any, first))
        task = asyncio.create_task(reporter.send(REPORT))
        await asyncio.sleep(0.01)
        self.assertFalse(task.done())
        reporter.disconnected()
        second = FakeConn([{"state": "installing", "duplicate": True}])
        await reporter.connected(cast(Any, second))  # before the subscribe: section 7, step 3
        self.assertTrue((await task)["duplicate"])
        self.assertEqual(second.sent, [REPORT])

    async def test_refusal_is_raised(self) -> None:
        reporter = Reporter()
        await reporter.connected(cast(Any, FakeConn([RpcError("old", data_code="CONFLICT", fleet_code="STALE_ATTEMPT")])))
        with self.assertRaises(ReportRefused) as ctx:
            await reporter.send(REPORT)
        self.assertEqual(ctx.exception.error.fleet_code, "STALE_ATTEMPT")

    async def test_unavailable_is_retried(self) -> None:
        reporter = Reporter()
        conn = FakeConn([RpcError("redis", data_code="SERVICE_UNAVAILABLE", fleet_code="UNAVAILABLE",
                                  retry_after_s=0.01)])
        await reporter.connected(cast(Any, conn))
        await reporter.send(REPORT)
        self.assertEqual(conn.sent, [REPORT, REPORT])


def _offer(attempt: int = 1, version: str = "2.0.0") -> dict[str, Any]:
    return {"type": "offer", "offer": {
        "offerId": f"ro_1:cam-1#{attempt}", "deliveryId": "ro_1:cam-1", "rolloutId": "ro_1", "attempt": attempt,
        "patch": {"id": "pat_1", "name": "fw", "version": version, "notes": "", "artifact": None, "signature": None},
        "ackTimeoutMs": 60000, "deadlineAt": 0}}


class WorkerTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.state = StateDir(self.dir.name)
        self.conn = FakeConn()
        self.link = FakeLink(self.conn)
        self.worker = Worker(self.link, self.state, Options({}, False, None, False, 1.0), "1.0.0")
        await self.worker.reporter.connected(cast(Any, self.conn))

    async def asyncTearDown(self) -> None:
        self.worker.stop()
        self.dir.cleanup()

    async def _settle(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0.01)

    async def test_patch_without_artifact_installs_and_succeeds(self) -> None:
        self.worker.on_event("ro_1:cam-1#1", _offer())
        await self._settle()
        self.assertEqual([r["status"] for r in self.conn.sent], ["installing", "succeeded"])
        self.assertEqual(self.conn.sent[-1]["firmwareVersion"], "2.0.0")
        self.assertEqual(self.state.load_firmware(), "2.0.0")
        self.assertEqual(self.worker.last_event_id, "ro_1:cam-1#1")

    async def test_finished_offer_again_is_answered_not_installed(self) -> None:
        self.worker.on_event("ro_1:cam-1#1", _offer())
        await self._settle()
        self.worker.on_event("ro_1:cam-1#1", _offer())
        await self._settle()
        self.assertEqual([r["status"] for r in self.conn.sent], ["installing", "succeeded", "succeeded"])

    async def test_reboot_reports_installed_then_restarts(self) -> None:
        self.worker.options.reboot = True
        self.worker.on_event("ro_1:cam-1#1", _offer())
        await self._settle()
        self.assertEqual([r["status"] for r in self.conn.sent], ["installing", "installed"])
        self.assertEqual(self.link.restarts, 1)
        self.assertEqual(self.worker.firmware, "2.0.0")

    async def test_required_signature_refuses_unsigned(self) -> None:
        self.worker.options.require_signature = True
        self.worker.on_event("ro_1:cam-1#1", _offer())
        await self._settle()
        self.assertEqual(self.conn.sent[-1], {"deliveryId": "ro_1:cam-1", "attempt": 1, "status": "failed",
                                              "error": "signature unsigned"})

    async def test_cancel_for_another_attempt_is_ignored(self) -> None:
        self.worker.on_event("x!cancel", {"type": "cancel", "deliveryId": "ro_1:cam-1", "attempt": 7})
        self.worker.on_event("y", {"type": "something-new"})
        await self._settle()
        self.assertEqual(self.conn.sent, [])
        self.assertEqual(self.worker.last_event_id, "y")


class CleanErrorTest(unittest.TestCase):
    def test_refused_characters_and_length(self) -> None:
        self.assertEqual(clean_error("a\x1b[31mb\u202ec\td"), "a?[31mb?c\td")
        self.assertEqual(len(clean_error("x" * 5000)), 1024)


if __name__ == "__main__":
    unittest.main()
