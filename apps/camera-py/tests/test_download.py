"""download.fetch against a local http.server that speaks Range / If-Range like a pod (section 6)."""

import asyncio
import hashlib
import os
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from camfleet_camera import download

BODY = os.urandom(200_000)
SHA = hashlib.sha256(BODY).hexdigest()


class ArtifactServer:
    def __init__(self) -> None:
        self.body = BODY
        self.etag = SHA
        self.status: int | None = None  # force an answer (403, 503, …)
        self.cut_after: int | None = None  # close the socket after this many body bytes, once
        self.requests: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(dict(self.headers))
                if server.status is not None:
                    self.send_response(server.status)
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body, start = server.body, 0
                rng, if_range = self.headers.get("Range"), self.headers.get("If-Range")
                if rng and (if_range is None or if_range == f'"{server.etag}"'):
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.send_header("ETag", f'"{server.etag}"')
                self.end_headers()
                chunk = body[start:]
                if server.cut_after is not None:
                    chunk, server.cut_after = chunk[: server.cut_after], None
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(chunk)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/artifacts/{SHA}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FetchTest(unittest.TestCase):
    def setUp(self) -> None:
        self.server = ArtifactServer()
        self.dir = tempfile.TemporaryDirectory()
        self.part = Path(self.dir.name) / f"{SHA}.part"
        self.seen: list[int] = []

    def tearDown(self) -> None:
        self.server.close()
        self.dir.cleanup()

    def fetch(self, **kw: Any) -> download.Transfer:
        async def on_bytes(n: int) -> None:
            self.seen.append(n)

        args: dict[str, Any] = dict(authorization="Device cam-1:s", part=self.part, size=len(BODY), sha256=SHA,
                                    on_bytes=on_bytes)
        args.update(kw)
        return asyncio.run(download.fetch(self.server.url, **args))

    def test_whole_file(self) -> None:
        t = self.fetch()
        self.assertEqual((t.resumed_from, t.bytes, t.http_status), (0, len(BODY), 200))
        self.assertEqual(self.part.read_bytes(), BODY)
        self.assertEqual(self.server.requests[0]["Authorization"], "Device cam-1:s")
        self.assertNotIn("Range", self.server.requests[0])
        self.assertEqual(self.seen[-1], len(BODY))

    def test_resume_with_range_and_if_range(self) -> None:
        self.part.write_bytes(BODY[:12345])
        t = self.fetch()
        self.assertEqual((t.resumed_from, t.http_status), (12345, 206))
        self.assertEqual(self.server.requests[0]["Range"], "bytes=12345-")
        self.assertEqual(self.server.requests[0]["If-Range"], f'"{SHA}"')
        self.assertEqual(self.part.read_bytes(), BODY)

    def test_cut_then_resume(self) -> None:
        self.server.cut_after = 50_000
        with self.assertRaises(download.RetryLater):
            self.fetch()
        self.assertEqual(self.part.stat().st_size, 50_000)  # kept for the resume
        t = self.fetch()
        self.assertEqual(t.resumed_from, 50_000)
        self.assertEqual(self.part.read_bytes(), BODY)

    def test_if_range_mismatch_starts_over(self) -> None:
        self.part.write_bytes(b"x" * 1000)
        self.server.etag = "something-else"  # the server's file changed: it answers 200, whole
        t = self.fetch()
        self.assertEqual((t.resumed_from, t.http_status), (0, 200))
        self.assertEqual(self.part.read_bytes(), BODY)

    def test_416_deletes_and_starts_over(self) -> None:
        self.server.body = BODY + b"!"  # the server claims more; our too-long part file is wrong
        self.part.write_bytes(b"y" * (len(BODY) + 1))
        # A part file longer than the artifact is dropped before asking.
        with self.assertRaises(download.IntegrityError):
            self.fetch()
        self.assertFalse(self.part.exists())

    def test_416_from_server(self) -> None:
        self.server.body = BODY[:1000]  # the server has less than we hold: 416
        self.part.write_bytes(BODY[:5000])
        with self.assertRaises(download.IntegrityError):  # then from scratch: 1000 bytes, wrong size
            self.fetch()
        self.assertEqual([r.get("Range") for r in self.server.requests], ["bytes=5000-", None])
        self.assertFalse(self.part.exists())

    def test_checksum_mismatch_deletes_the_file(self) -> None:
        self.server.body = bytes(len(BODY))
        with self.assertRaises(download.IntegrityError) as ctx:
            self.fetch()
        self.assertIn("checksum mismatch", str(ctx.exception))
        self.assertFalse(self.part.exists())

    def test_whole_partial_is_only_verified(self) -> None:
        self.part.write_bytes(BODY)
        t = self.fetch()
        self.assertIsNone(t.http_status)
        self.assertEqual(self.server.requests, [])

    def test_forbidden(self) -> None:
        self.server.status = 403
        with self.assertRaises(download.Forbidden):
            self.fetch()

    def test_unavailable_is_retry_later(self) -> None:
        self.server.status = 503
        with self.assertRaises(download.RetryLater) as ctx:
            self.fetch()
        self.assertEqual(ctx.exception.retry_after_s, 0.0)

    def test_unreachable_is_retry_later(self) -> None:
        self.server.close()
        with self.assertRaises(download.RetryLater):
            self.fetch()
        self.server = ArtifactServer()  # for tearDown

    def test_rate_limit(self) -> None:
        self.server.body = BODY[:40_000]
        started = time.monotonic()
        self.fetch(size=40_000, sha256=hashlib.sha256(BODY[:40_000]).hexdigest(), rate=100_000)
        self.assertGreaterEqual(time.monotonic() - started, 0.35)  # 40 kB at 100 kB/s


if __name__ == "__main__":
    unittest.main()
