"""The one way this target talks to Intercom: HTTP, auth, retries, pacing, honest errors.

Every call goes through `IntercomClient.request`. It retries what may succeed on a
second try (connection errors, timeouts, 408, 5xx) with exponential backoff and
jitter, waits out 429s until the window resets instead of hammering, stops the run on
401/403 (a bad token fails every call alike, so retrying only burns the rate limit),
and turns any other 4xx into an `ApiError` carrying Intercom's own code and message.
The access token lives in one header of one session and nowhere else.

A call that must not be sent twice (a create Intercom gives no 409 for) is not retried
once it may have reached Intercom: the caller hears `Unanswered` and decides. Once
the run is stopping, no call starts and no backoff sleep goes on, so a stop waits at
most for the calls on the wire, each bounded by `request_timeout`, which bounds the whole
answer, not each read of it. (Over 300 lines: each way an answer can fail has its own
error and its own line for the user, and they belong together.)
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import backoff
import requests
import urllib3
from requests.adapters import HTTPAdapter

from target_intercom import __version__
from target_intercom.errors import AuthError, FatalError, RecordError, Stopped
from target_intercom.metrics import Metrics
from target_intercom.pacing import Pacer
from target_intercom.waits import Waits

logger = logging.getLogger("target-intercom.client")

# 429s are not failures of the call but of our pacing; they get their own, larger cap.
MAX_RATE_LIMITED_PER_CALL = 50
# Bytes asked for a read of an answer's body: any that have arrived come back at once.
_CHUNK = 65_536
# A Link header's values (RFC 8288): `<URI>` and its `;`-separated parameters.
_MAX_LINK = 2_000
_LINK_VALUE = re.compile(r"<([^<>]*)>((?:\s*;[^,;]*)*)")
_REL = re.compile(r'\brel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))', re.IGNORECASE)
_CONTACT_PATH = re.compile(r"(?:.*/)?contacts/([A-Za-z0-9_-]{1,64})")


class ApiError(RecordError):
    """Intercom rejected one call with a 4xx (other than 401/403/408/429)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        endpoint: str,
        *,
        canonical_id: str | None = None,
    ) -> None:
        super().__init__(f"Intercom answered {status} {code} to {endpoint}: {message}", code)
        self.status = status
        self.intercom_message = message
        # The contact a merged one lives on as, from the answer's `Link: </contacts/{id}>;
        # rel="canonical"` (Intercom 2.16's 410); None when the answer names none.
        self.canonical_id = canonical_id


class RetriesExhausted(FatalError):
    """Intercom or the network kept failing a call after every retry."""


class Unanswered(RecordError):
    """A call that must not be repeated failed in a way that leaves unknown whether
    Intercom applied it (no answer, a 5xx, a body that is not Intercom's)."""

    def __init__(self, endpoint: str, what: str) -> None:
        super().__init__(f"{endpoint} got no usable answer ({what})", "unanswered")


class _Transient(Exception):
    """A failure worth another try; carries a description of what happened."""


class _Incomplete(_Transient):
    """A 2xx answer without what the call needs: Intercom may have applied the call, as
    after a 5xx, so it is tried again; after every retry it is the record's error."""


class IncompleteAnswer(RecordError):
    """Every try of a call was answered 2xx without the fields it needs."""

    def __init__(self, endpoint: str, what: str) -> None:
        super().__init__(f"{endpoint} {what}, after every retry (max_retries)", "incomplete_answer")


@dataclass(frozen=True)
class Response:
    """What Intercom answered: its status, and its body as JSON (None when empty)."""

    status: int
    body: Any


class Client(Protocol):
    """What the writers need of a client: one call, named by its route template.

    `IntercomClient` sends it; `DryRunClient` (dryrun.py) only says what it would send.
    """

    def request(
        self,
        method: str,
        template: str,
        *,
        path: dict[str, str] | None = None,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        may_repeat: bool = True,
        needs: tuple[str, ...] = (),
    ) -> Response:
        """One call: its answer, or an ApiError that names what Intercom said.

        `may_repeat=False` for a call that must never be sent twice (a lead's create):
        a lost answer then raises `Unanswered` instead of trying again. `needs`: the fields
        the answer must carry (`("id",)`); a 2xx without them is no answer."""
        ...


def canonical_contact(link: str | None) -> str | None:
    """The contact id a `Link` header names as canonical (`</contacts/{id}>;
    rel="canonical"`, the URI relative or absolute), or None when there is no such link
    or it is malformed: a caller then does what it did before Intercom sent links."""
    if not link or len(link) > _MAX_LINK:
        return None
    for target, params in _LINK_VALUE.findall(link):
        rels = (m.group(1) or m.group(2) for m in _REL.finditer(params))
        if any("canonical" in rel.lower().split() for rel in rels):
            named = _CONTACT_PATH.fullmatch(urlsplit(target.strip()).path)
            return named.group(1) if named else None
    return None


def _error_details(response: requests.Response, content: bytes) -> tuple[str, str]:
    """Intercom's first `errors[]` entry, or a short stand-in for non-JSON bodies."""
    try:
        body = json.loads(content)
    except ValueError:
        return "http_error", f"HTTP {response.status_code} {response.reason}"
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        return str(first.get("code") or "error"), str(first.get("message") or "")
    return "http_error", f"HTTP {response.status_code} {response.reason}"


class IntercomClient:
    """A `requests.Session` with Intercom's headers, a shared pacer and a retry policy."""

    def __init__(
        self,
        *,
        base_url: str,
        access_token: str,
        api_version: str,
        timeout: float,
        max_retries: int,
        pacer: Pacer,
        metrics: Metrics,
        pool_size: int = 10,
        stopping: threading.Event | None = None,
        waits: Waits,
    ) -> None:
        self._waits = waits
        self.base_url = base_url.rstrip("/")
        # Named in connection errors: the settings allow no userinfo in it, so no secret.
        self.host = urlsplit(self.base_url).netloc
        self.timeout = timeout
        self.max_retries = max_retries
        self._stopping = stopping or threading.Event()
        self.pacer = pacer
        self.metrics = metrics
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {access_token}",
                "Accept": "application/json",
                "Content-Type": "application/json",
                "Intercom-Version": api_version,
                "User-Agent": f"target-intercom/{__version__}",
            }
        )
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(pool_size, 1))
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        # requests re-reads proxies, CA bundles and ~/.netrc from the environment on every
        # call, which costs more CPU than the call itself at thousands of calls a second.
        # Read them once here instead; redirects are never followed (Intercom sends none,
        # and a redirect must not carry the token elsewhere).
        self.session.trust_env = False
        # Plain http is only ever allowed to this machine (settings.py): a proxy from the
        # environment would carry the token off it unencrypted, so none is used for it.
        self._proxies = (
            {}
            if self.base_url.startswith("http://")
            else requests.utils.get_environ_proxies(self.base_url)
        )
        self._verify: bool | str = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )

    def close(self) -> None:
        """Lets go of the pooled connections at the end of the run."""
        self.session.close()

    def request(
        self,
        method: str,
        template: str,
        *,
        path: dict[str, str] | None = None,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        may_repeat: bool = True,
        needs: tuple[str, ...] = (),
    ) -> Response:
        """Sends one call, named by its route template (`PUT /contacts/{id}`) for the metrics.

        `may_repeat=False`: a failure after which Intercom may hold the write raises
        `Unanswered` instead of sending it again. `needs`: the fields a 2xx answer must
        carry; one without them is tried again, then is an `IncompleteAnswer`.
        """
        endpoint = f"{method} {template}"
        url = self.base_url + template.format(
            **{k: quote(str(v), safe="") for k, v in (path or {}).items()}
        )
        # backoff's own decorator sleeps with time.sleep, which a stop cannot cut short;
        # its wait generator and jitter are used, and the sleep is a wait on `stopping`.
        waits = backoff.expo(factor=self._waits.backoff_factor, max_value=self._waits.backoff_max)
        next(waits)
        tries = 0
        while True:
            tries += 1
            self._raise_if_stopping(endpoint)
            try:
                return self._send_once(method, url, endpoint, json_body, params, needs)
            except _Transient as exc:
                if not may_repeat:
                    raise Unanswered(endpoint, str(exc)) from None
                if tries > self.max_retries and isinstance(exc, _Incomplete):
                    raise IncompleteAnswer(endpoint, str(exc)) from None
                if tries > self.max_retries:
                    raise RetriesExhausted(
                        f"{endpoint} still failing after every retry (max_retries): {exc}"
                    ) from None
                wait = backoff.full_jitter(next(waits))
                self.metrics.count_retry()
                logger.warning("Retrying %s in %.1fs (try %d): %s", endpoint, wait, tries, exc)
                self._stopping.wait(wait)

    def _raise_if_stopping(self, endpoint: str) -> None:
        if self._stopping.is_set():
            raise Stopped(f"{endpoint} not sent: the run is stopping")

    def _send_once(
        self,
        method: str,
        url: str,
        endpoint: str,
        json_body: Any,
        params: dict[str, Any] | None,
        needs: tuple[str, ...],
    ) -> Response:
        data = None if json_body is None else json.dumps(json_body, separators=(",", ":"))
        for _ in range(MAX_RATE_LIMITED_PER_CALL):
            self.pacer.acquire()
            self.metrics.count_call(endpoint)
            prepared = requests.PreparedRequest()
            prepared.prepare(
                method=method, url=url, headers=self.session.headers, data=data, params=params
            )
            sent_at = time.time()
            deadline = time.monotonic() + self.timeout
            try:
                # Streamed: requests' timeout bounds each read, and an answer trickling in
                # a byte at a time would never end; `_content` bounds the whole answer.
                response = self.session.send(
                    prepared,
                    timeout=self.timeout,
                    proxies=self._proxies,
                    verify=self._verify,
                    allow_redirects=False,
                    stream=True,
                )
                content = self._content(response, deadline)
            except _Transient:
                self.pacer.release()
                raise
            except (requests.Timeout, urllib3.exceptions.TimeoutError):
                self.pacer.release()
                raise _Transient(
                    f"no answer from {self.host} within {self.timeout}s (request_timeout)"
                ) from None
            except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                self.pacer.release()
                raise _Transient(
                    f"connection to {self.host} failed ({type(exc).__name__})"
                ) from None
            self.pacer.release(response.headers, sent_at=sent_at)
            if response.status_code != 429:
                return self._read(response, content, endpoint, needs)
            self.metrics.count_rate_limited()
            waited = self.pacer.wait_for_reset(response.headers)
            logger.info(
                "Rate limited on %s; waited %.1fs for the window to reset", endpoint, waited
            )
        raise FatalError(
            f"{endpoint} was rate limited {MAX_RATE_LIMITED_PER_CALL} times in a row; "
            "another app may be using this workspace's whole limit (see requests_per_minute)"
        )

    def _content(self, response: requests.Response, deadline: float) -> bytes:
        """The answer's body, read as it comes, until `deadline` (the call's
        request_timeout); an answer still coming then is no answer."""
        chunks: list[bytes] = []
        try:
            while chunk := response.raw.read1(_CHUNK, decode_content=True):
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise _Transient(
                        f"the answer from {self.host} was still coming after {self.timeout:g}s "
                        "(request_timeout)"
                    )
        except BaseException:
            response.close()  # the rest of the answer would be read as the next one's
            raise
        # Read to its end: the connection goes back to the pool for the next call.
        response.raw.release_conn()
        return b"".join(chunks)

    @staticmethod
    def _read(
        response: requests.Response, content: bytes, endpoint: str, needs: tuple[str, ...]
    ) -> Response:
        status = response.status_code
        if status < 400:
            try:
                body = json.loads(content) if content else None
            except ValueError:
                # Not Intercom's answer (a proxy's page, a cut-off body): whether the call
                # took effect is unknown, as after a 5xx, so it is tried again.
                kind = response.headers.get("Content-Type") or "no content type"
                raise _Transient(f"HTTP {status} with a body that is not JSON ({kind})") from None
            missing = [n for n in needs if not (isinstance(body, dict) and body.get(n))]
            if missing:
                raise _Incomplete(f"answered {status} without the {', '.join(missing)} it needs")
            return Response(status, body)
        code, message = _error_details(response, content)
        if status in (401, 403):
            raise AuthError(
                f"Intercom refused the access token ({status} {code}: {message}). "
                "Check that access_token is a valid token of this workspace's app, "
                "for this region, with the permissions to write contacts, companies "
                "and events."
            )
        if status == 408 or status >= 500:
            raise _Transient(f"HTTP {status} {code}: {message}")
        canonical_id = canonical_contact(response.headers.get("Link"))
        raise ApiError(status, code, message, endpoint, canonical_id=canonical_id)
