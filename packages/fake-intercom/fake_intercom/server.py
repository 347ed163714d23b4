"""The fake Intercom's HTTP server, and `FakeIntercom`, the handle tests hold.

A real server on 127.0.0.1 (stdlib `ThreadingHTTPServer`, HTTP/1.1 keep-alive), so the
target is tested over the same sockets, pools and timeouts it meets in production, with
no patching of `requests`. `/_fake/*` endpoints let subprocesses (benchmark, demo)
inspect and configure it.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import dataclasses
import enum
import http
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fake_intercom.attributes import MAX_CUSTOM_ATTRIBUTES
from fake_intercom.contacts import EmailMatch, check_email_match
from fake_intercom.faults import FaultPicker, Faults
from fake_intercom.gate import Gate
from fake_intercom.gateway import Call, Gateway, Reply, Settings, envelope
from fake_intercom.openapi import default_openapi_path, load_description
from fake_intercom.store import Workspace

_PHRASES = {s.value: s.phrase for s in http.HTTPStatus}


class _Keep(enum.Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP


class FakeIntercom:
    """An in-memory Intercom workspace behind a real HTTP server.

    `openapi_path` None means INTERCOM_OPENAPI_PATH, else the description next to the
    repository (`../shared/intercom-openapi/`) if present, else no body validation.
    `max_event_names` and `max_custom_attributes` (per model, archived ones included) are
    Intercom's caps, lowered by tests that want to reach them quickly.

    `email_match_on_create` picks the answer to a case Intercom does not document: a
    create carrying a new external_id plus the email of a user that has no external_id.
    "conflict" (the default) answers 409 naming that user; "duplicate" creates a second
    user with the same email. A target must end with one contact either way, so its
    tests can run both. It can be changed while serving (the attribute, `configure` or
    `POST /_fake/email_match_on_create`) and survives `reset`.

    `app_name` is the workspace's name as `GET /me` answers it (`app.name`), so a smoke
    test that refuses any workspace but the one it is told can run against the fake.
    """

    def __init__(
        self,
        token: str = "secret-token",
        latency: float = 0.0,
        search_lag: float = 0.0,
        rate_limit: int | None = None,
        rate_window: float = 10.0,
        clock_skew: float = 0.0,
        faults: Faults | None = None,
        openapi_path: Path | str | None = None,
        validate: bool = True,
        max_event_names: int = 120,
        max_custom_attributes: int = MAX_CUSTOM_ATTRIBUTES,
        email_match_on_create: EmailMatch = "conflict",
        port: int = 0,
        app_name: str = "Fake Intercom",
    ) -> None:
        path = Path(openapi_path) if openapi_path is not None else default_openapi_path()
        description = load_description(str(path.resolve())) if path is not None else None
        settings = Settings(latency, search_lag, rate_limit, rate_window, validate, clock_skew)
        picker = FaultPicker(faults or Faults())
        self._max_event_names = max_event_names
        self._max_custom_attributes = max_custom_attributes
        self._email_match_on_create = check_email_match(email_match_on_create)
        self._app_name = app_name
        self._gateway = Gateway(token, settings, picker, description, self._new_workspace())
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.url: str | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> str:
        """Listen on 127.0.0.1 (port chosen by the OS unless given) and serve in a thread."""
        if self._server is not None:
            raise RuntimeError("FakeIntercom is already running")
        server = _Server(("127.0.0.1", self._port), self._gateway, self._control)
        self._server = server
        # `stop` waits for the serving loop's next poll: at 50 ms a poll, stopping the
        # fast test tier's 250 fakes took about 6 s.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.005}, daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        """Stop serving and cut kept-alive connections, so no client talks to a stale fake."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._gateway.gate.open()  # no answer is held for a client that is gone
        server.shutdown()
        server.server_close()
        with server.connections_lock:
            connections = list(server.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeIntercom:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def validating(self) -> bool:
        """Whether request bodies are checked against the description right now."""
        return self._gateway.settings.validate and self._gateway.description is not None

    @property
    def email_match_on_create(self) -> EmailMatch:
        """ "conflict" or "duplicate": see the class docstring."""
        return self._email_match_on_create

    @email_match_on_create.setter
    def email_match_on_create(self, mode: EmailMatch) -> None:
        """Takes effect from the next request; anything but the two modes is ValueError."""
        mode = check_email_match(mode)
        with self._gateway.lock:
            self._email_match_on_create = mode
            self._gateway.workspace.contacts.email_match_on_create = mode

    def configure(
        self,
        *,
        latency: float | _Keep = KEEP,
        search_lag: float | _Keep = KEEP,
        rate_limit: int | _Keep | None = KEEP,
        rate_window: float | _Keep = KEEP,
        clock_skew: float | _Keep = KEEP,
        faults: Faults | dict[str, Any] | _Keep | None = KEEP,
        validate: bool | _Keep = KEEP,
        max_event_names: int | _Keep = KEEP,
        max_custom_attributes: int | _Keep = KEEP,
        email_match_on_create: EmailMatch | _Keep = KEEP,
    ) -> None:
        """Change behaviour while serving; requests already under way keep the old one.
        `faults` may be a dict of Faults' fields (as `POST /_fake/configure` sends it),
        or None for no faults."""
        given: dict[str, Any] = {
            "latency": latency,
            "search_lag": search_lag,
            "rate_limit": rate_limit,
            "rate_window": rate_window,
            "clock_skew": clock_skew,
            "validate": validate,
        }
        changes = {k: v for k, v in given.items() if v is not KEEP}
        settings = dataclasses.replace(self._gateway.settings, **changes)
        if email_match_on_create is not KEEP:  # checked before anything changes
            email_match_on_create = check_email_match(email_match_on_create)
        if faults is None:
            faults = Faults()
        elif isinstance(faults, dict):
            faults = Faults.from_dict(faults)
        if isinstance(faults, Faults):
            self._gateway.faults = FaultPicker(faults)
        if isinstance(max_event_names, int):
            with self._gateway.lock:
                self._max_event_names = max_event_names
                self._gateway.workspace.event_log.max_names = max_event_names
        if isinstance(max_custom_attributes, int):
            with self._gateway.lock:
                self._max_custom_attributes = max_custom_attributes
                self._gateway.workspace.attributes.max_custom = max_custom_attributes
        if email_match_on_create is not KEEP:
            self.email_match_on_create = email_match_on_create
        self._gateway.settings = settings

    def hold(self, *routes: str, timeout: float = 60.0) -> Gate:
        """Holds the answers to these routes ("POST /contacts") behind a closed gate until
        the test lets them through (`Gate`), for tests that must know which calls are in
        flight. Replaces the gate before, which is opened."""
        gate = Gate(routes, timeout=timeout)
        previous, self._gateway.gate = self._gateway.gate, gate
        previous.open()
        return gate

    def _new_workspace(self) -> Workspace:
        return Workspace(
            self._max_event_names,
            self._max_custom_attributes,
            self._email_match_on_create,
            self._app_name,
        )

    def reset(self) -> None:
        """Empty the workspace, the call log and the validation errors."""
        with self._gateway.lock:
            self._gateway.workspace = self._new_workspace()
        self._gateway.log.clear()

    def reset_calls(self) -> None:
        """Start counting calls afresh, the workspace kept: what a second run costs."""
        self._gateway.log.clear_calls()

    # --------------------------------------------------------------- inspection
    # Each answer is built fresh under the lock: safe to keep and read while serving.

    def contacts(self) -> list[dict[str, Any]]:
        """Every contact that is not deleted or merged, archived ones with "archived": true."""
        with self._gateway.lock:
            contacts = self._gateway.workspace.contacts.by_id.values()
            return [{**c.render(), "archived": c.archived} for c in contacts]

    def companies(self) -> list[dict[str, Any]]:
        with self._gateway.lock:
            ws = self._gateway.workspace
            return [c.render(ws.tags) for c in ws.companies.values()]

    def memberships(self) -> set[tuple[str, str]]:
        """(contact id, company id), both Intercom's ids."""
        with self._gateway.lock:
            contacts = self._gateway.workspace.contacts.by_id.values()
            return {(c.id, company) for c in contacts for company in c.company_ids}

    def tags(self) -> list[dict[str, Any]]:
        with self._gateway.lock:
            tags = self._gateway.workspace.tags
            return [{"type": "tag", "id": i, "name": n} for i, n in tags.items()]

    def contact_tags(self) -> set[tuple[str, str]]:
        """(contact id, tag name)."""
        with self._gateway.lock:
            ws = self._gateway.workspace
            return {(c.id, ws.tags[t]) for c in ws.contacts.by_id.values() for t in c.tag_ids}

    def company_tags(self) -> set[tuple[str, str]]:
        """(company_id, tag name): the caller's company_id, not Intercom's id."""
        with self._gateway.lock:
            ws = self._gateway.workspace
            return {(c.company_id, ws.tags[t]) for c in ws.companies.values() for t in c.tag_ids}

    def merged_contacts(self) -> dict[str, str]:
        """{merged contact's id: id of the contact it was merged into}."""
        with self._gateway.lock:
            return dict(self._gateway.workspace.contacts.merged)

    def events(self) -> list[dict[str, Any]]:
        with self._gateway.lock:
            return copy.deepcopy(self._gateway.workspace.event_log.events)

    def data_attributes(self, model: str | None = "contact") -> list[dict[str, Any]]:
        """Built-in and custom attributes, archived included; model None gives both models."""
        with self._gateway.lock:
            return self._gateway.workspace.attributes.listing(model, include_archived=True)

    def custom_object_instances(self, type_name: str) -> list[dict[str, Any]]:
        """Every instance of a seeded type, as `GET` renders it (ValueError if unknown)."""
        with self._gateway.lock:
            return self._gateway.workspace.custom_objects.instances(type_name)

    def calls(self) -> list[Call]:
        with self._gateway.log.lock:
            return list(self._gateway.log.calls)

    def call_counts(self) -> collections.Counter[str]:
        with self._gateway.log.lock:
            return collections.Counter(self._gateway.log.counts)

    def validation_errors(self) -> list[str]:
        with self._gateway.log.lock:
            return list(self._gateway.log.validation_errors)

    def state(self) -> dict[str, Any]:
        """Everything above as one consistent, JSON-ready snapshot (`GET /_fake/state`)."""
        with self._gateway.lock:
            return {
                "contacts": self.contacts(),
                "companies": self.companies(),
                "memberships": sorted(map(list, self.memberships())),
                "tags": self.tags(),
                "contact_tags": sorted(map(list, self.contact_tags())),
                "merged_contacts": self.merged_contacts(),
                "company_tags": sorted(map(list, self.company_tags())),
                "events": self.events(),
                "data_attributes": self.data_attributes(None),
                "custom_object_instances": {
                    name: self.custom_object_instances(name)
                    for name in self._gateway.workspace.custom_objects.types
                },
                "call_counts": dict(self.call_counts()),
                "validation_errors": self.validation_errors(),
            }

    # ------------------------------------------------------------------ seeding

    def seed_contact(
        self,
        external_id: str | None = None,
        email: str | None = None,
        role: str = "user",
        archived: bool = False,
        searchable: bool = True,
        **fields: Any,
    ) -> str:
        """Add a contact as if another client had made it; returns its Intercom id.
        `searchable=False` keeps it out of search until it is next written."""
        with self._gateway.lock:
            contacts = self._gateway.workspace.contacts
            return contacts.seed(external_id, email, role, archived, searchable, fields)

    def seed_data_attribute(
        self, name: str, data_type: str, model: str = "contact", archived: bool = False
    ) -> None:
        """Define a data attribute, with the API's rules (a bad name raises ApiError)."""
        body = {"name": name, "data_type": data_type, "model": model}
        with self._gateway.lock:
            self._gateway.workspace.attributes.create(body, archived=archived)

    def seed_custom_object_type(
        self, name: str, attributes: Iterable[str] = (), reference_attribute: str | None = None
    ) -> None:
        """Define a custom object type and its attributes, as Intercom's settings would
        (the API cannot), and, when `reference_attribute` is given, the contact attribute
        that references its instances. Their values are strings, as the API takes them."""
        with self._gateway.lock:
            objects = self._gateway.workspace.custom_objects
            objects.seed_type(name, attributes)
            if reference_attribute is not None:
                objects.seed_reference(reference_attribute, name)

    def seed_company(self, company_id: str, **fields: Any) -> str:
        with self._gateway.lock:
            return self._gateway.workspace.seed_company(company_id, fields)

    def merge_contacts(self, from_id: str, into_id: str) -> None:
        """Merge one contact into another, as someone in Intercom's UI would: `from_id`
        leaves `contacts()`, search, the external_id and email lookups, memberships and
        tags, and is listed by `merged_contacts()`; every request naming it (and, for a
        user, `find_by_external_id` of its external_id) answers 410 `contact_merged` with
        `Link: </contacts/{into_id}>; rel="canonical"`, as Intercom 2.16 does. `into_id` is
        unchanged. Unknown ids raise ValueError. (Intercom merges only a lead into a user;
        the fake merges any two, for tests of what a target does when it meets one.)"""
        with self._gateway.lock:
            self._gateway.workspace.merge_contacts(from_id, into_id)

    def edit_contact(self, contact_id: str, at: int | None = None, **fields: Any) -> None:
        """Edit a contact by its Intercom id behind the client's back, as a teammate in
        Intercom's UI would: the fields given change (`custom_attributes` merge, None
        clearing one), no call is logged, search sees the edit after its lag, and
        `updated_at` moves past the write before (or is `at`, Unix seconds: an edit made
        then). An unknown or merged id raises ValueError."""
        with self._gateway.lock:
            contacts = self._gateway.workspace.contacts
            if contact_id not in contacts.by_id:
                raise ValueError(f"no contact with id {contact_id!r} to edit")
            contacts.edit(contact_id, fields, at)

    def delete_contact(self, contact_id: str) -> None:
        """Delete a contact (archived or not) by its Intercom id behind the client's back,
        as someone in Intercom's UI would: what `DELETE /contacts/{id}` does, without a
        call being logged. The contact leaves `contacts()`, search, every lookup, its
        memberships and tags; its id answers 404 "User Not Found" from now on, and its
        external_id is free again. An unknown or merged id raises ValueError."""
        with self._gateway.lock:
            ws = self._gateway.workspace
            if contact_id not in ws.contacts.by_id:
                raise ValueError(f"no contact with id {contact_id!r} to delete")
            ws.delete_contact(contact_id)

    def delete_company(self, company_id: str) -> str:
        """Delete a company by its company_id (the caller's id, not Intercom's) behind the
        client's back, and return its Intercom id. Its memberships and tags go with it,
        and calls naming that Intercom id answer 404 `company_not_found` (get, attach,
        detach, tag). An unknown company_id raises ValueError."""
        with self._gateway.lock:
            return self._gateway.workspace.delete_company(company_id)

    # ------------------------------------------------------------------ control

    def _control(self, method: str, path: str, raw: bytes) -> Reply:
        """`/_fake/*`: inspection and configuration for subprocess users (no auth)."""
        try:
            if (method, path) == ("GET", "/_fake/state"):
                payload: Any = self.state()
            elif (method, path) == ("POST", "/_fake/reset"):
                self.reset()
                payload = {"ok": True}
            elif (method, path) == ("POST", "/_fake/configure"):
                self.configure(**_json_object(raw))
                payload = {"ok": True}
            elif (method, path) == ("POST", "/_fake/merge"):
                self.merge_contacts(**_json_object(raw))  # {"from_id": ..., "into_id": ...}
                payload = {"ok": True}
            elif (method, path) == ("POST", "/_fake/edit_contact"):
                self.edit_contact(**_json_object(raw))  # {"contact_id": ..., "name": ...}
                payload = {"ok": True}
            elif (method, path) == ("POST", "/_fake/delete_contact"):
                self.delete_contact(**_json_object(raw))  # {"contact_id": ...}
                payload = {"ok": True}
            elif (method, path) == ("POST", "/_fake/custom_object_type"):
                # {"name": "Order", "attributes": [...], "reference_attribute": "order"}
                self.seed_custom_object_type(**_json_object(raw))
                payload = {"ok": True}
            elif (method, path) == ("POST", "/_fake/delete_company"):
                payload = {"ok": True, "id": self.delete_company(**_json_object(raw))}
            elif (method, path) == ("POST", "/_fake/email_match_on_create"):
                mode = _json_object(raw).get("mode")  # {"mode": "conflict" | "duplicate"}
                self.email_match_on_create = check_email_match(mode)
                payload = {"ok": True}
            else:
                return Reply(404, envelope("not_found", f"No control endpoint {method} {path}"))
        except (TypeError, ValueError) as exc:
            return Reply(400, envelope("parameter_invalid", str(exc)))
        return Reply(200, json.dumps(payload).encode())


def _json_object(raw: bytes) -> dict[str, Any]:
    """A control request's body, which must be a JSON object (ValueError otherwise)."""
    body = json.loads(raw or b"{}")
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


_MAX_HEADERS = 100
_MAX_LINE = 65536


class _Headers(dict[str, str]):
    """Request headers by lower-cased name, looked up case-insensitively like HTTP's."""

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a thread may sleep out a "timeout" fault: never wait for it
    request_queue_size = 256  # clients open 32+ connections at once

    def __init__(
        self,
        address: tuple[str, int],
        gateway: Gateway,
        control: Callable[[str, str, bytes], Reply],
    ) -> None:
        super().__init__(address, _Handler)
        self.gateway = gateway
        self.control = control
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # else small writes wait for delayed ACKs (40 ms each)
    timeout = 300  # an idle kept-alive connection is closed after this many seconds
    server: _Server
    raw_requestline: bytes  # set by the stdlib's handle_one_request before parse_request

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def parse_request(self) -> bool:
        """The stdlib's parse_request for HTTP/1.0 and 1.1 only, with a plain header
        parser: the stdlib's, built on `email.parser`, costs more CPU than all the rest of
        a request, and the benchmark sends 200,000 of them through one process."""
        self.command = None  # type: ignore[assignment]  # as the stdlib does, until parsed
        self.request_version = "HTTP/1.0"  # so that an error below gets a status line
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1"):
            self.send_error(http.HTTPStatus.BAD_REQUEST, f"Bad request line {self.requestline!r}")
            return False
        self.command, self.path, self.request_version = words
        headers = _Headers()
        for _ in range(_MAX_HEADERS):
            line = self.rfile.readline(_MAX_LINE + 1)
            if len(line) > _MAX_LINE:
                self.send_error(http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long")
                return False
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("iso-8859-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        else:
            self.send_error(http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers")
            return False
        self.headers = headers  # type: ignore[assignment]
        connection = headers.get("Connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive"
        )
        expect_continue = headers.get("Expect", "").lower() == "100-continue"
        return not expect_continue or self.request_version == "HTTP/1.0" or self.handle_expect_100()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: 200,000 benchmark requests must not become 200,000 stderr lines."""

    def _handle(self) -> None:
        started = time.perf_counter()
        server = self.server
        split = urlsplit(self.path)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        raw = self.rfile.read(length) if length > 0 else b""
        if len(raw) < length:
            self.close_connection = True  # the client left mid-body: there is no request
            return
        if length < 0 or "chunked" in (self.headers.get("Transfer-Encoding") or ""):
            self.close_connection = True  # where the body ends is unknown: give up the socket
            reply = Reply(400, envelope("parameter_invalid", "Send a body with Content-Length"))
        elif split.path.startswith("/_fake/"):
            reply = server.control(self.command, split.path, raw)
        else:
            reply = server.gateway.answer(self.command, split.path, split.query, self.headers, raw)
        if reply.delay > 0:
            time.sleep(reply.delay)
        if reply.route is not None:  # logged before answering: a client never sees it missing
            server.gateway.gate.hold(reply.route)
            status = 0 if reply.drop else reply.status
            elapsed = time.perf_counter() - started
            call = Call(self.command, reply.route, status, elapsed, time.time())
            server.gateway.log.record(call)
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self._send(reply)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def _send(self, reply: Reply) -> None:
        """One write per response: fewer syscalls, and no Nagle stall between parts."""
        lines = [
            f"HTTP/1.1 {reply.status} {_PHRASES.get(reply.status, '')}",
            "Server: fake-intercom",
            f"Content-Length: {len(reply.body)}",
        ]
        if not any(name == "Date" for name, _ in reply.headers):  # a skewed clock sends its own
            lines.append(f"Date: {self.date_time_string()}")
        if reply.content_type:
            lines.append(f"Content-Type: {reply.content_type}; charset=utf-8")
        lines += [f"{name}: {value}" for name, value in reply.headers]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            if not reply.trickle:
                self.wfile.write(head + reply.body)
                return
            self.wfile.write(head)
            for byte in reply.body:
                self.wfile.flush()
                time.sleep(reply.trickle)
                self.wfile.write(bytes([byte]))
        except OSError:
            self.close_connection = True  # the client went away (it may have timed out)
