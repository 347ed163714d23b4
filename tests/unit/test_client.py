"""IntercomClient against a scripted HTTP server on 127.0.0.1: retries, 429s, errors, the token."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import pytest

from target_intercom.client import ApiError, IntercomClient, RetriesExhausted, Unanswered
from target_intercom.errors import AuthError, Stopped
from target_intercom.metrics import Metrics
from target_intercom.pacing import Pacer
from target_intercom.waits import Waits
from tests.conftest import WAITS

TOKEN = "tok_unit_S3cr3t-0123456789abcdef"
# Longer than the client's timeout: the answer comes too late.
TOO_LATE = 0.4


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    # Headers computed when the answer is sent, for reset times relative to then.
    late_headers: Callable[[], dict[str, str]] | None = None


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.answers: deque[Answer] = deque()
        self.seen: list[Seen] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, *answers: Answer) -> None:
        with self.lock:
            self.answers.extend(answers)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up on a late answer is expected here, not worth a traceback."""


class Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        server = cast(ScriptedServer, self.server)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        with server.lock:
            server.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
            answer = server.answers.popleft() if server.answers else Answer(500)
        time.sleep(answer.delay)
        if answer.body is None:
            payload = b""
        elif isinstance(answer.body, str):
            payload = answer.body.encode()
        else:
            payload = json.dumps(answer.body).encode()
        headers = {**answer.headers, **(answer.late_headers() if answer.late_headers else {})}
        self.send_response(answer.status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads `seen`, not the log."""


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    thread = threading.Thread(target=scripted.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield scripted
    finally:
        scripted.shutdown()
        scripted.server_close()
        thread.join(2.0)


def client_for(
    server: ScriptedServer, *, max_retries: int = 2, metrics: Metrics | None = None
) -> IntercomClient:
    """The real client with millisecond waits, so a test with retries takes milliseconds."""
    return IntercomClient(
        base_url=server.url + "/",
        access_token=TOKEN,
        api_version="2.11",
        timeout=0.2,
        max_retries=max_retries,
        pacer=Pacer(waits=WAITS),
        metrics=metrics or Metrics(),
        pool_size=2,
        waits=WAITS,
    )


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"type": "error.list", "errors": [{"code": code, "message": message}]}


def test_a_5xx_is_retried_until_it_succeeds(server: ScriptedServer) -> None:
    metrics = Metrics()
    server.script(Answer(500), Answer(503), Answer(200, {"id": "c1"}))
    response = client_for(server, max_retries=3, metrics=metrics).request("POST", "/contacts")
    assert (response.status, response.body) == (200, {"id": "c1"})
    assert len(server.seen) == 3
    snapshot = metrics.snapshot()
    assert snapshot["retries"] == 2
    assert snapshot["api_calls"] == {"POST /contacts": 3}


def test_a_5xx_on_every_try_exhausts_the_retries(server: ScriptedServer) -> None:
    server.script(*[Answer(502, error_body("bad_gateway", "down"))] * 3)
    with pytest.raises(RetriesExhausted, match="POST /contacts still failing after every retry"):
        client_for(server, max_retries=2).request("POST", "/contacts", json_body={"a": 1})
    assert len(server.seen) == 3


def test_a_timeout_is_retried(server: ScriptedServer) -> None:
    server.script(Answer(200, delay=TOO_LATE), Answer(200, {"ok": True}))
    response = client_for(server, max_retries=1).request("GET", "/me")
    assert response.body == {"ok": True}
    assert len(server.seen) == 2


def test_timeouts_on_every_try_exhaust_the_retries(server: ScriptedServer) -> None:
    server.script(Answer(200, delay=TOO_LATE), Answer(200, delay=TOO_LATE))
    with pytest.raises(RetriesExhausted, match=r"no answer from 127\.0\.0\.1:\d+ within 0\.2s"):
        client_for(server, max_retries=1).request("GET", "/me")
    assert len(server.seen) == 2


def test_a_429_waits_for_the_reset_then_tries_again(server: ScriptedServer) -> None:
    metrics = Metrics()
    server.script(
        Answer(
            429,
            error_body("rate_limit_exceeded", "Exceeded rate limit"),
            # No X-RateLimit-Remaining: the pacer learns no budget from this answer, so
            # only the 429 handling itself can make the client wait.
            late_headers=lambda: {"X-RateLimit-Reset": str(time.time() + 0.3)},
        ),
        Answer(200, {"id": "c1"}),
    )
    started = time.monotonic()
    response = client_for(server, max_retries=0, metrics=metrics).request("POST", "/contacts")
    elapsed = time.monotonic() - started
    assert response.body == {"id": "c1"}
    assert 0.2 <= elapsed < 1.5
    assert len(server.seen) == 2
    snapshot = metrics.snapshot()
    assert (snapshot["rate_limited"], snapshot["retries"]) == (1, 0)


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_is_an_auth_error_without_the_token(
    server: ScriptedServer, status: int
) -> None:
    server.script(Answer(status, error_body("unauthorized", "Access Token Invalid")))
    with pytest.raises(AuthError) as raised:
        client_for(server).request("GET", "/me")
    message = str(raised.value)
    assert f"Intercom refused the access token ({status} unauthorized" in message
    assert TOKEN not in message
    assert TOKEN[4:20] not in message
    assert len(server.seen) == 1


def test_a_4xx_is_an_api_error_with_intercoms_code_and_message(server: ScriptedServer) -> None:
    server.script(Answer(404, error_body("not_found", "User Not Found")))
    with pytest.raises(ApiError) as raised:
        client_for(server).request("PUT", "/contacts/{id}", path={"id": "c1"}, json_body={})
    error = raised.value
    assert (error.status, error.code) == (404, "not_found")
    assert error.intercom_message == "User Not Found"
    assert error.message == "Intercom answered 404 not_found to PUT /contacts/{id}: User Not Found"
    assert len(server.seen) == 1


def test_a_4xx_without_a_json_body_is_still_an_api_error(server: ScriptedServer) -> None:
    server.script(Answer(422, "<html>nope</html>"))
    with pytest.raises(ApiError) as raised:
        client_for(server).request("POST", "/events", json_body={})
    assert raised.value.code == "http_error"
    assert raised.value.status == 422


def test_the_token_is_only_in_the_authorization_header(server: ScriptedServer) -> None:
    server.script(Answer(200, {}))
    client_for(server).request(
        "POST",
        "/contacts/{id}",
        path={"id": "c1"},
        json_body={"email": "a@x.io"},
        params={"q": "1"},
    )
    (seen,) = server.seen
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["Intercom-Version"] == "2.11"
    others = {name: value for name, value in seen.headers.items() if name != "Authorization"}
    assert TOKEN not in json.dumps(others)
    assert TOKEN not in seen.path
    assert TOKEN.encode() not in seen.body
    assert seen.path == "/contacts/c1?q=1"
    assert json.loads(seen.body) == {"email": "a@x.io"}


def test_path_parameters_are_url_quoted(server: ScriptedServer) -> None:
    server.script(Answer(200, {}))
    client_for(server).request("GET", "/companies/{id}", path={"id": "a/b c?d#e%"})
    assert server.seen[0].path == "/companies/a%2Fb%20c%3Fd%23e%25"


def test_a_call_that_may_not_repeat_is_sent_once_and_reported_unanswered(
    server: ScriptedServer,
) -> None:
    server.script(Answer(503), Answer(200, {"id": "c2"}))
    with pytest.raises(Unanswered, match=r"POST /contacts got no usable answer \(HTTP 503"):
        client_for(server, max_retries=3).request("POST", "/contacts", may_repeat=False)
    assert len(server.seen) == 1


def test_a_stop_ends_a_backoff_wait_at_once_and_starts_no_call(server: ScriptedServer) -> None:
    stopping = threading.Event()
    client = IntercomClient(  # the real backoff: its third wait alone could be 2 s
        base_url=server.url,
        access_token=TOKEN,
        api_version="2.11",
        timeout=0.2,
        max_retries=8,
        pacer=Pacer(stopping=stopping, waits=Waits()),
        metrics=Metrics(),
        stopping=stopping,
        waits=Waits(),
    )
    server.script(*[Answer(503)] * 9)
    threading.Timer(0.3, stopping.set).start()
    started = time.monotonic()
    with pytest.raises(Stopped, match="the run is stopping"):
        client.request("POST", "/contacts")
    assert time.monotonic() - started < 2.0
    sent = len(server.seen)
    time.sleep(0.3)
    assert len(server.seen) == sent < 9
