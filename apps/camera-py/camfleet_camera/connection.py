"""One WebSocket to one pod (spec sections 2, 3 and 7): credentials first, request ids,
answers matched to calls, the offers subscription, PING/PONG keepalive, the reconnect notice."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import websockets.client
import websockets.exceptions

from . import frames
from .frames import ErrorFrame, Keepalive, ReconnectNotice, Result, RpcError, Unknown
from .log import log

KEEPALIVE_IDLE_S = 30.0  # section 7: PING after 30 s without hearing anything
KEEPALIVE_WAIT_S = 10.0  # … and drop the connection if still silent 10 s later
MAX_FRAME_BYTES = 64 * 1024  # section 8: larger frames close the socket (1009); the server sends small ones
NORMAL_CLOSE = 1000


@dataclass
class CloseInfo:
    code: int
    reason: str
    reconnect_notice: bool = False  # the pod asked us to move (it is shutting down)
    connection_error: RpcError | None = None  # an `id: null` error just before the close (credentials)
    keepalive_timeout: bool = False


class ConnectionLost(Exception):
    def __init__(self, info: CloseInfo) -> None:
        super().__init__(f"connection closed ({info.code} {info.reason})")
        self.info = info


def ws_url(base_url: str) -> str:
    """http://host:port → ws://host:port/trpc?connectionParams=1 (section 2; the path is fixed)."""
    parts = urlsplit(base_url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"not an http(s) base URL: {base_url}")
    return f"{scheme}://{parts.netloc}/trpc?connectionParams=1"


class Subscription:
    """The events of one subscription, in order; ends on `stopped` or when the connection closes."""

    def __init__(self, request_id: int) -> None:
        self.request_id = request_id
        self.started = asyncio.get_running_loop().create_future()
        self._queue: asyncio.Queue[Result | BaseException] = asyncio.Queue()

    def _push(self, item: Result | BaseException) -> None:
        if not self.started.done():
            if isinstance(item, BaseException):
                self.started.set_exception(item)
                self.started.exception()  # retrieved here: a refused subscribe is raised by subscribe()
            else:
                self.started.set_result(None)
        if isinstance(item, Result) and item.type == "started":
            return
        self._queue.put_nowait(item)

    async def next(self) -> Result:
        """The next `data` or `stopped` result; raises ConnectionLost / RpcError when it ends otherwise."""
        item = await self._queue.get()
        if isinstance(item, BaseException):
            self._queue.put_nowait(item)  # stays ended
            raise item
        return item


class Connection:
    def __init__(self, ws: Any, base_url: str) -> None:
        self.ws = ws
        self.base_url = base_url
        self._ids = itertools.count(1)  # request ids: unique among open requests on this connection
        self._calls: dict[int, asyncio.Future[Any]] = {}
        self._subs: dict[int, Subscription] = {}
        self._last_heard = time.monotonic()
        self._notice = False
        self._keepalive_timeout = False
        self._conn_error: RpcError | None = None
        self._closing: asyncio.Task[None] | None = None  # held: asyncio keeps only weak references
        loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[CloseInfo] = loop.create_future()
        self._reader = loop.create_task(self._read())
        self._pinger = loop.create_task(self._keepalive())

    @classmethod
    async def open(
        cls, base_url: str, device_id: str, *, secret: str | None = None, enroll_token: str | None = None
    ) -> "Connection":
        # The spec's keepalive is text PING/PONG, not WebSocket ping frames: turn those off.
        ws = await websockets.client.connect(
            ws_url(base_url), ping_interval=None, max_size=MAX_FRAME_BYTES * 16, close_timeout=2, open_timeout=10
        )
        conn = cls(ws, base_url)
        # connectionParams must be the first frame, within 10 s of opening (else 4003).
        await conn._send(frames.connection_params(device_id, secret=secret, enroll_token=enroll_token))
        return conn

    async def call(self, path: str, input: Any) -> Any:
        """A mutation; returns the answer's value or raises RpcError / ConnectionLost."""
        rid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._calls[rid] = fut
        try:
            await self._send(frames.request(rid, "mutation", path, input))
            return await fut
        finally:
            self._calls.pop(rid, None)

    async def subscribe(self, path: str, input: Any, last_event_id: str | None) -> Subscription:
        rid = next(self._ids)
        sub = Subscription(rid)
        self._subs[rid] = sub
        await self._send(frames.request(rid, "subscription", path, input, last_event_id=last_event_id))
        await sub.started
        return sub

    async def close(self, code: int = NORMAL_CLOSE, reason: str = "") -> CloseInfo:
        try:
            await self.ws.close(code, reason)
        except Exception:
            pass
        return await self.closed

    async def _send(self, text: str) -> None:
        try:
            await self.ws.send(text)
        except websockets.exceptions.ConnectionClosed:
            raise ConnectionLost(await self.closed) from None

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                self._last_heard = time.monotonic()  # any frame is a sign of life
                if isinstance(message, bytes):
                    continue  # the protocol uses text frames only
                await self._dispatch(frames.decode(message))
        except websockets.exceptions.ConnectionClosed:
            pass
        finally:
            self._pinger.cancel()
            code = self.ws.close_code if self.ws.close_code is not None else 1006
            info = CloseInfo(
                code=1006 if self._keepalive_timeout else code,
                reason="keepalive timeout" if self._keepalive_timeout else (self.ws.close_reason or ""),
                reconnect_notice=self._notice,
                connection_error=self._conn_error,
                keepalive_timeout=self._keepalive_timeout,
            )
            lost = ConnectionLost(info)
            for fut in self._calls.values():
                if not fut.done():
                    fut.set_exception(lost)
            for sub in self._subs.values():
                sub._push(lost)
            if not self.closed.done():
                self.closed.set_result(info)

    async def _dispatch(self, frame: frames.Frame) -> None:
        if isinstance(frame, Keepalive):
            if frame.text == frames.PING:
                await self.ws.send(frames.PONG)
        elif isinstance(frame, ReconnectNotice):
            # The pod is draining: close and let the session connect again (to the next URL).
            self._notice = True
            close = self.ws.close(NORMAL_CLOSE, "reconnect requested")
            self._closing = asyncio.get_running_loop().create_task(close)
        elif isinstance(frame, ErrorFrame):
            if frame.id is None:
                # Connection-level: refused credentials, a throttled login, a frame the server could not parse.
                self._conn_error = frame.error
                log("error", message=f"connection error: {frame.error}")
            elif (fut := self._calls.get(frame.id)) is not None and not fut.done():  # type: ignore[arg-type]
                fut.set_exception(frame.error)
            elif (sub := self._subs.get(frame.id)) is not None:  # type: ignore[arg-type]
                sub._push(frame.error)
        elif isinstance(frame, Result):
            if (fut := self._calls.get(frame.id)) is not None and not fut.done():  # type: ignore[arg-type]
                fut.set_result(frame.data)
            elif (sub := self._subs.get(frame.id)) is not None:  # type: ignore[arg-type]
                if frame.type == "stopped":
                    self._subs.pop(frame.id, None)  # type: ignore[arg-type]
                sub._push(frame)
        elif isinstance(frame, Unknown):
            log("error", message=f"unexpected frame: {frame.raw[:200]}")

    async def _keepalive(self) -> None:
        pinged_at: float | None = None
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            if pinged_at is not None and self._last_heard > pinged_at:
                pinged_at = None  # heard something after our PING
            if pinged_at is None and now - self._last_heard >= KEEPALIVE_IDLE_S:
                pinged_at = now
                try:
                    await self.ws.send(frames.PING)
                except websockets.exceptions.ConnectionClosed:
                    return
            elif pinged_at is not None and now - pinged_at >= KEEPALIVE_WAIT_S:
                # Silent for 10 s after our PING: the peer or the path is gone.
                self._keepalive_timeout = True
                self.ws.transport.abort()
                return
