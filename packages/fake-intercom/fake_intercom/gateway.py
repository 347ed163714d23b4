"""What happens to one Intercom request, from its headers to its reply (no I/O here).

Order matters and mirrors Intercom: auth, then the rate limit (every authenticated call
counts), then Accept and Intercom-Version, routing, an injected fault if one is drawn,
JSON parsing and OpenAPI validation, and finally the workspace applies the call under
one lock. The reply carries the latency to sleep; the HTTP layer sleeps it outside the
lock, so slow answers never serialise the server.
"""

from __future__ import annotations

import collections
import dataclasses
import email.utils
import json
import math
import threading
import time
import uuid
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from fake_intercom.errors import ApiError
from fake_intercom.faults import BAD_GATEWAY_HTML, FaultPicker
from fake_intercom.gate import Gate
from fake_intercom.openapi import FALLBACK_VERSIONS, OpenApiDescription
from fake_intercom.routes import Request, Route, Router
from fake_intercom.store import Workspace

# The X-RateLimit-Limit sent when no limit is set: big enough never to be reached.
UNLIMITED = 1_000_000
# Accepted beside the description's numbered versions: `Unstable` was renamed `Preview`,
# accepted only as spelt here (Intercom-OpenAPI PR #669; intercom-facts.md). The fake
# answers it as it answers 2.16, since the routes it serves behave alike in both.
PREVIEW_VERSION = "Preview"


class Call(NamedTuple):
    """One request as the fake saw it. `status` is 0 when the connection was dropped;
    `elapsed` includes latency; `finished_at` (Unix time) is when the answer went out,
    for tests that compare it with what the client did next."""

    method: str
    route: str
    status: int
    elapsed: float
    finished_at: float


@dataclasses.dataclass(frozen=True)
class Settings:
    """Replaced as a whole by `configure`, so a request always sees one consistent set."""

    latency: float
    search_lag: float
    rate_limit: int | None
    rate_window: float
    validate: bool
    # Seconds this fake's clock runs ahead of the client's (negative: behind): it moves the
    # rate-limit windows, X-RateLimit-Reset and the Date header together, as a real server
    # whose clock differs from the client's would.
    clock_skew: float = 0.0

    def __post_init__(self) -> None:
        if self.rate_window <= 0:
            raise ValueError("rate_window must be positive")
        if self.rate_limit is not None and self.rate_limit < 1:
            raise ValueError("rate_limit must be a positive integer or None")
        if self.latency < 0 or self.search_lag < 0:
            raise ValueError("latency and search_lag can't be negative")


# What an applied call's 2xx answer carries under the faults that empty it.
_EMPTY_BODIES = {
    "apply_then_empty": b"",
    "apply_then_null": b"null",
    "apply_then_empty_object": b"{}",
}


@dataclasses.dataclass(slots=True)
class Reply:
    """An answer to send (or, with `drop`, a connection to cut) after sleeping `delay`."""

    status: int
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    delay: float = 0.0
    drop: bool = False
    route: str | None = None  # None: not an Intercom call, so not logged
    # Seconds between the body's bytes (0: the body at once).
    trickle: float = 0.0


def envelope(code: str, message: str) -> bytes:
    """Intercom's error body."""
    error = {
        "type": "error.list",
        "request_id": str(uuid.uuid4()),
        "errors": [{"code": code, "message": message}],
    }
    return json.dumps(error).encode()


@dataclasses.dataclass(frozen=True, slots=True)
class _Responder:
    """Builds the replies to one authenticated request: same route, latency, headers."""

    route: str
    delay: float
    headers: list[tuple[str, str]]

    def error(
        self, status: int, code: str, message: str, extra: tuple[tuple[str, str], ...] = ()
    ) -> Reply:
        body = envelope(code, message)
        headers = [*self.headers, *extra]
        return Reply(status, body, headers=headers, delay=self.delay, route=self.route)

    def json(self, status: int, payload: Any) -> Reply:
        """A JSON answer; a None payload is an empty body (the 202 of `POST /events`)."""
        if payload is None:
            return Reply(status, b"", None, self.headers, self.delay, route=self.route)
        body = json.dumps(payload, separators=(",", ":")).encode()
        return Reply(status, body, headers=self.headers, delay=self.delay, route=self.route)


class RateLimiter:
    """Fixed windows aligned to multiples of the window length since the epoch, like
    Intercom's 10-second windows; the reset header is the end of the current window."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._window: tuple[float, int] | None = None
        self._count = 0

    def take(
        self, limit: int | None, length: float, now: float
    ) -> tuple[list[tuple[str, str]], bool]:
        """Count one call at server time `now`: (rate-limit headers, whether it is over)."""
        index = math.floor(now / length)
        allowed = UNLIMITED if limit is None else limit
        with self._lock:
            if self._window != (length, index):
                self._window, self._count = (length, index), 0
            over = self._count >= allowed
            if not over:
                self._count += 1
            remaining = allowed - self._count
        reset = (index + 1) * length
        reset_text = str(round(reset)) if float(length).is_integer() else f"{reset:.3f}"
        headers = [
            ("X-RateLimit-Limit", str(allowed)),
            ("X-RateLimit-Remaining", str(remaining)),
            ("X-RateLimit-Reset", reset_text),
        ]
        return headers, over


class CallLog:
    """Every Intercom call answered, and every body that failed validation."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[Call] = []
        self.counts: collections.Counter[str] = collections.Counter()
        self.validation_errors: list[str] = []

    def record(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)
            self.counts[call.route] += 1

    def invalid(self, message: str) -> None:
        with self.lock:
            self.validation_errors.append(message)

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()
            self.counts.clear()
            self.validation_errors.clear()

    def clear_calls(self) -> None:
        """Forgets the calls, not the validation errors a test still has to see."""
        with self.lock:
            self.calls.clear()
            self.counts.clear()


def accepts_json(accept: str | None) -> bool:
    if not accept:
        return False
    media = (part.split(";", 1)[0].strip().lower() for part in accept.split(","))
    return any(m in ("application/json", "application/*", "*/*") for m in media)


class Gateway:
    """The request pipeline and the state it works on (workspace, settings, log)."""

    def __init__(
        self,
        token: str,
        settings: Settings,
        faults: FaultPicker,
        description: OpenApiDescription | None,
        workspace: Workspace,
    ) -> None:
        self.settings = settings
        self.faults = faults
        self.gate = Gate()  # holds no route until a test asks (`FakeIntercom.hold`)
        self.description = description
        self.lock = threading.RLock()  # guards `workspace`
        self.workspace = workspace
        self.log = CallLog()
        self._auth = f"Bearer {token}"
        numbered = description.versions if description else FALLBACK_VERSIONS
        self._versions = (*numbered, PREVIEW_VERSION)
        self._limiter = RateLimiter()
        self._router = Router()

    def answer(self, method: str, path: str, query: str, headers: Any, raw: bytes) -> Reply:
        """Decide the reply to one request; `headers` is the request's header mapping."""
        settings, picker = self.settings, self.faults
        found = self._router.match(method, path)
        name = found[0].name if found else f"{method} {path}"
        if headers.get("Authorization") != self._auth:
            unauthorized = _Responder(name, settings.latency, [])
            return unauthorized.error(401, "unauthorized", "Access Token Invalid")
        now = time.time() + settings.clock_skew
        rate_headers, over = self._limiter.take(settings.rate_limit, settings.rate_window, now)
        if settings.clock_skew:
            rate_headers.append(("Date", email.utils.formatdate(now, usegmt=True)))
        respond = _Responder(name, settings.latency, rate_headers)
        if over:
            limit, window = settings.rate_limit, f"{settings.rate_window:g}_seconds"
            return respond.error(
                429, "rate_limit_exceeded", f"Exceeded rate limit of {limit} in {window}"
            )
        if not accepts_json(headers.get("Accept")):
            return respond.error(406, "not_acceptable", "The Accept header must allow JSON")
        version = headers.get("Intercom-Version")
        if version is not None and version not in self._versions:
            return respond.error(
                400, "intercom_version_invalid", f"'{version}' is not a valid Intercom-Version"
            )
        if found is None:
            return respond.error(404, "not_found", "Resource Not Found")
        route, params = found
        fault = picker.pick(method, route.template)
        if fault == "500":
            return respond.error(500, "server_error", "Server Error")
        if fault == "502_html":  # from the edge, not from Intercom: no rate-limit headers
            return Reply(502, BAD_GATEWAY_HTML, "text/html", delay=settings.latency, route=name)
        if fault == "200_html":
            return Reply(200, BAD_GATEWAY_HTML, "text/html", delay=settings.latency, route=name)
        if fault == "409_conflict":
            return respond.error(409, "conflict", "Conflict")
        if fault == "503":
            return respond.error(
                503, "service_unavailable", "Sorry, the API service is temporarily unavailable"
            )
        if fault in ("drop", "timeout"):
            delay = picker.faults.timeout if fault == "timeout" else settings.latency
            return Reply(0, delay=delay, drop=True, route=name)
        reply = self._apply(route, params, query, raw, settings, respond)
        reply.drop = fault == "apply_then_drop"
        if fault in _EMPTY_BODIES and 200 <= reply.status < 300:
            reply.body = _EMPTY_BODIES[fault]
        if fault == "apply_then_trickle":
            reply.trickle = picker.faults.timeout
        return reply

    def _apply(
        self,
        route: Route,
        params: dict[str, str],
        query: str,
        raw: bytes,
        settings: Settings,
        respond: _Responder,
    ) -> Reply:
        """Parse and validate the body, then let the workspace apply the call."""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self.log.invalid(f"{route.name}: the body is not valid JSON")
            return respond.error(400, "parameter_invalid", "The request body is not valid JSON")
        if route.takes_body:
            if settings.validate and self.description is not None:
                problem = self.description.validate(route.method, route.template, body)
                if problem is not None:
                    self.log.invalid(f"{route.name}: {problem}")
                    return respond.error(400, "parameter_invalid", problem)
            if not isinstance(body, dict):
                return respond.error(
                    400, "parameter_invalid", "The request body must be a JSON object"
                )
        request = Request(params, dict(parse_qsl(query)), body, settings.search_lag)
        try:
            with self.lock:
                payload = route.handler(self.workspace, request)
        except ApiError as exc:
            return respond.error(exc.status, exc.code, exc.message, exc.headers)
        return respond.json(route.status, payload)
