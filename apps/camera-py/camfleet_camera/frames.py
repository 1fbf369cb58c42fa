"""Wire frames (spec section 3): tRPC 11 WebSocket messages with superjson's {"json": …} envelope."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Union

PING = "PING"
PONG = "PONG"

RequestId = Union[int, str]


@dataclass
class RpcError(Exception):
    """An error frame's `error.json` (section 3, "Errors"). Act on `fleet_code`, never on `message`."""

    message: str
    code: int | None = None
    data_code: str | None = None  # BAD_REQUEST, UNAUTHORIZED, CONFLICT, …
    http_status: int | None = None
    fleet_code: str | None = None  # STALE_ATTEMPT, DELIVERY_FINISHED, … or None for protocol errors
    path: str | None = None
    retry_after_s: float | None = None  # from data.limit, for TOO_MANY_REQUESTS
    limit_name: str | None = None
    zod_issues: Any = None

    def __str__(self) -> str:
        return f"{self.data_code or self.code}/{self.fleet_code}: {self.message}"

    @classmethod
    def from_json(cls, value: Any) -> "RpcError":
        body = _unwrap(value)
        if not isinstance(body, dict):
            return cls(message=f"malformed error: {value!r:.200}")
        data: dict[str, Any] = body["data"] if isinstance(body.get("data"), dict) else {}
        limit: dict[str, Any] = data["limit"] if isinstance(data.get("limit"), dict) else {}
        retry = limit.get("retryAfterSeconds")
        return cls(
            message=str(body.get("message", "")),
            code=body.get("code") if isinstance(body.get("code"), int) else None,
            data_code=data.get("code"),
            http_status=data.get("httpStatus"),
            fleet_code=data.get("fleetCode"),
            path=data.get("path"),
            retry_after_s=float(retry) if isinstance(retry, (int, float)) else None,
            limit_name=limit.get("name"),
            zod_issues=data.get("zodIssues"),
        )


@dataclass
class Result:
    """`{"id", "result": {"type", "data"?, "id"?}}`: a call's answer or a subscription's started/data/stopped."""

    id: RequestId
    type: str  # "data", "started" or "stopped"
    data: Any = None  # the value with superjson's envelope removed
    event_id: str | None = None  # subscriptions: the tracked event id (result.id)


@dataclass
class ErrorFrame:
    id: RequestId | None  # None: a connection-level error (refused credentials, bad JSON)
    error: RpcError


@dataclass
class Keepalive:
    text: str  # PING or PONG (section 7)


@dataclass
class ReconnectNotice:
    """`{"id":null,"method":"reconnect"}`: the pod is shutting down (section 3, "Stop and reconnect")."""


@dataclass
class Unknown:
    raw: str = field(repr=False)


Frame = Union[Result, ErrorFrame, Keepalive, ReconnectNotice, Unknown]


def _unwrap(value: Any) -> Any:
    # superjson's envelope; `meta` (dates, undefined) is not used by any device-facing value.
    if isinstance(value, dict) and "json" in value:
        return value["json"]
    return value


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def connection_params(device_id: str, *, secret: str | None = None, enroll_token: str | None = None) -> str:
    """The first frame on every socket (section 2): credentials never go in the URL."""
    data: dict[str, str] = {"deviceId": device_id}
    if secret is not None:
        data["secret"] = secret
    elif enroll_token is not None:
        data["enrollToken"] = enroll_token
    else:
        raise ValueError("a secret or an enrollment token is needed")
    return _dump({"method": "connectionParams", "data": data})


def request(
    request_id: RequestId, method: str, path: str, input: Any, *, last_event_id: str | None = None
) -> str:
    """A mutation or subscription; the input must be wrapped, or the server reads it as no input."""
    params: dict[str, Any] = {"path": path, "input": {"json": input}}
    if last_event_id is not None:
        params["lastEventId"] = last_event_id
    return _dump({"id": request_id, "method": method, "params": params})


def subscription_stop(request_id: RequestId) -> str:
    return _dump({"id": request_id, "method": "subscription.stop"})


def decode(text: str) -> Frame:
    if text in (PING, PONG):
        return Keepalive(text)
    try:
        obj = json.loads(text)
    except ValueError:
        return Unknown(text)
    if not isinstance(obj, dict):
        return Unknown(text)
    rid = obj.get("id")
    if obj.get("method") == "reconnect":
        return ReconnectNotice()
    if "error" in obj:
        return ErrorFrame(rid, RpcError.from_json(obj["error"]))
    result = obj.get("result")
    if isinstance(result, dict) and isinstance(result.get("type"), str) and rid is not None:
        return Result(rid, result["type"], _unwrap(result.get("data")), result.get("id"))
    return Unknown(text)
