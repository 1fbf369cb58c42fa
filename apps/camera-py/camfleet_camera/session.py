"""The device's life (spec sections 2, 4 and 7): credentials (or enrollment), register, resend,
subscribe with lastEventId, and reconnecting with full-jitter backoff as close codes say."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Callable

import websockets.exceptions

from .connection import CloseInfo, Connection, ConnectionLost
from .frames import RpcError
from .log import log
from .offers import Options, Worker
from .state import StateDir

BACKOFF_BASE_S = 0.25
BACKOFF_CAP_S = 10.0

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_CREDENTIALS = 3  # refused, revoked or rotated (4001): an operator must act
EXIT_REPLACED = 4  # 4002: another process is this device now


def full_jitter(n: int, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait before a connect: random in [0, min(10 s, 250 ms × 2^n)], n = failed connects in a row."""
    return rand() * min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0 ** min(n, 16))


class Stop(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Identity:
    device_id: str
    secret: str | None
    enroll_token: str | None
    model: str
    labels: dict[str, str] = field(default_factory=dict)


class Session:
    def __init__(self, urls: list[str], identity: Identity, state: StateDir, options: Options, firmware: str) -> None:
        self.urls = urls
        self.identity = identity
        self.state = state
        self.worker = Worker(self, state, options, firmware)
        self.conn: Connection | None = None
        self._next_url = 0
        self._failures = 0  # failed connects in a row (the n of the backoff)
        self._ready = asyncio.Event()
        self._restart = False
        self._registered = False
        self._closing: asyncio.Task[CloseInfo] | None = None

    # -- what a delivery needs (offers.Link) --
    @property
    def authorization(self) -> str:
        return f"Device {self.identity.device_id}:{self.identity.secret}"

    async def ready(self) -> Connection:
        while True:
            await self._ready.wait()
            if self.conn is not None and self._ready.is_set():
                return self.conn

    def restart(self) -> None:
        """--reboot: drop the connection and come back registering the installed version."""
        self._restart = True
        if self.conn is not None:
            self._closing = asyncio.get_running_loop().create_task(self.conn.close(1000, "restart"))

    # -- the loop --
    async def run(self) -> int:
        try:
            while True:
                wait = await self._connect_once()
                if wait is None:
                    continue
                log("backoff", ms=int(wait * 1000))
                await asyncio.sleep(wait)
        except Stop as s:
            return s.code
        finally:
            self.worker.stop()
            if self.conn is not None:
                conn, self.conn = self.conn, None
                info = await conn.close(1000, "shutdown")
                log("closed", code=info.code, reason=info.reason)

    def _url(self) -> str:
        # Each connect goes to the next base URL: fail over on every disconnect.
        url = self.urls[self._next_url % len(self.urls)]
        self._next_url += 1
        return url

    async def _connect_once(self) -> float | None:
        """One connection from open to close. Returns how long to wait before the next (None: at once)."""
        url = self._url()
        ident = self.identity
        enrolling = ident.secret is None
        log("connecting", url=url, enroll=enrolling)
        try:
            conn = await Connection.open(url, ident.device_id, secret=ident.secret,
                                         enroll_token=ident.enroll_token if enrolling else None)
        except websockets.exceptions.InvalidStatusCode as e:
            # 429 on the upgrade: the pod holds too many unauthenticated sockets (section 2).
            log("error", message=f"connect {url}: HTTP {e.status_code}")
            self._failures += 1
            retry = _float(e.headers.get("Retry-After")) if e.status_code == 429 else None
            return retry + random.random() if retry is not None else full_jitter(self._failures)
        except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as e:
            log("error", message=f"connect {url}: {e or type(e).__name__}")
            self._failures += 1
            return full_jitter(self._failures)
        self.conn = conn
        log("connected", url=url)
        self._registered = False
        try:
            if enrolling:
                return await self._enroll(conn)
            await self._serve(conn)
        except ConnectionLost:
            pass
        except RpcError as e:
            log("error", message=f"refused: {e}")
            if e.data_code == "UNAUTHORIZED":
                # The pod also answers the call sent behind refused credentials (or a second enroll).
                log("error", message="credentials refused: an operator must provision or rotate this device")
                raise Stop(EXIT_CREDENTIALS)
            if e.data_code == "BAD_REQUEST" and e.path == "device.register":
                raise Stop(EXIT_USAGE)  # our model, version or labels break the rules: fix the flags
            await conn.close(1000, "error")
        finally:
            self._ready.clear()
            self.worker.reporter.disconnected()
        info = await conn.closed
        self.conn = None
        log("closed", code=info.code, reason=info.reason, reconnectNotice=info.reconnect_notice,
            **({"connectionError": info.connection_error.fleet_code or info.connection_error.data_code}
               if info.connection_error else {}))
        return self._after_close(info, self._registered)

    async def _enroll(self, conn: Connection) -> float | None:
        """Trade the enrollment token for the device's own secret (section 4), then reconnect."""
        answer = await conn.call("device.enroll", None)
        secret = answer["secret"]
        self.state.save_secret(secret)
        self.identity.secret = secret
        log("enrolled", deviceId=answer.get("deviceId"))
        await conn.close(1000, "enrolled")
        info = await conn.closed
        self.conn = None
        log("closed", code=info.code, reason=info.reason)
        return None

    async def _serve(self, conn: Connection) -> None:
        register = {"model": self.identity.model, "firmwareVersion": self.worker.firmware}
        if self.identity.labels:
            register["labels"] = self.identity.labels  # type: ignore[assignment]
        device = await conn.call("device.register", register)
        self._failures = 0
        self._registered = True
        log("registered", firmwareVersion=device.get("firmwareVersion"), node=device.get("node"))
        await self.worker.reporter.connected(conn)  # step 3: the report that had no answer
        self._ready.set()
        last = self.worker.last_event_id
        sub = await conn.subscribe("device.offers", {"lastEventId": last} if last else {}, last)
        log("subscribed", lastEventId=last)
        while True:
            result = await sub.next()
            if result.type == "data":
                data = result.data if isinstance(result.data, dict) else {}
                self.worker.on_event(result.event_id or data.get("id"), data.get("data"))
            elif result.type == "stopped":
                # The server ended the subscription: start over on a fresh connection.
                log("error", message="offers subscription stopped by the server")
                await conn.close(1000, "subscription stopped")
                return

    def _after_close(self, info: CloseInfo, registered: bool) -> float | None:
        err = info.connection_error
        if err is not None and err.data_code == "UNAUTHORIZED":
            log("error", message="credentials refused: an operator must provision or rotate this device")
            raise Stop(EXIT_CREDENTIALS)  # retrying a refused credential never helps (section 2)
        if info.code == 4001:
            log("error", message="credential revoked or rotated (4001)")
            raise Stop(EXIT_CREDENTIALS)
        if info.code == 4002:
            log("error", message="replaced by a newer connection of this device (4002)")
            raise Stop(EXIT_REPLACED)
        if self._restart:
            self._restart = False
            return None  # our own restart (--reboot): come back at once
        if not registered:
            self._failures += 1  # n counts connects that failed before registering
        if err is not None and err.data_code == "TOO_MANY_REQUESTS" and err.retry_after_s is not None:
            return err.retry_after_s + random.random()  # a throttled login: wait as told
        # Everything else (4003, 1008, 1009, 1012, the reconnect notice, 1005/1006): full jitter.
        # After a registered connection n is 0, so a drained pod's devices come back within 250 ms.
        return full_jitter(self._failures)


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
