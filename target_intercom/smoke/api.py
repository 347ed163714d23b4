"""The smoke test's own HTTP calls: raw answers, not the target's client.

The checks need what Intercom answers (status, error text, headers) as it is, so nothing
here retries a rejection or hides one; only a 429 is waited out (bounded), since a check
that met someone else's burst has learnt nothing. The token goes in the Authorization
header and nowhere else.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from typing import Any

import requests

from target_intercom.config_schema import DEFAULT_API_VERSION

# Seconds for one HTTP answer.
CALL_TIMEOUT = 30.0
# A 429 is waited out at most this long, this many times, before the answer is returned.
RATE_LIMIT_WAIT = 15.0
RATE_LIMIT_TRIES = 3
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@dataclasses.dataclass(frozen=True)
class Answer:
    """One HTTP answer, reduced to what a check records."""

    status: int
    body: Any
    headers: dict[str, str]

    @property
    def messages(self) -> list[str]:
        """The error envelope's messages (empty for a success or an unexpected body)."""
        if not isinstance(self.body, dict):
            return []
        errors = self.body.get("errors")
        if not isinstance(errors, list):
            return []
        return [str(e.get("message")) for e in errors if isinstance(e, dict)]

    @property
    def codes(self) -> list[str]:
        """The error envelope's codes."""
        if not isinstance(self.body, dict) or not isinstance(self.body.get("errors"), list):
            return []
        return [str(e.get("code")) for e in self.body["errors"] if isinstance(e, dict)]


class SmokeApi:
    """Calls one workspace with one token; counts calls by route for the report."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = requests.Session()
        # Plain-http (loopback) calls must not go through a proxy from the environment.
        self._session.trust_env = base_url.startswith("https://")
        self._session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Content-Type": "application/json",
                # The version the target sends; the Preview check names its own.
                "Intercom-Version": DEFAULT_API_VERSION,
            }
        )
        self.calls: Counter[str] = Counter()

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        version: str | None = None,
        route: str | None = None,
        wait_out_429: bool = True,
    ) -> Answer:
        """One call (a 429 waited out unless told not to); `route` names it in the counts
        when the path carries an id."""
        headers = {"Intercom-Version": version} if version else None
        for _ in range(RATE_LIMIT_TRIES):
            self.calls[f"{method} {route or path}"] += 1
            response = self._session.request(
                method,
                self.base_url + path,
                json=body,
                params=params,
                headers=headers,
                timeout=CALL_TIMEOUT,
            )
            answer = _answer(response)
            if answer.status != 429 or not wait_out_429:
                return answer
            time.sleep(seconds_to_reset(answer.headers, RATE_LIMIT_WAIT))
        return answer

    def close(self) -> None:
        """Closes the pooled connections."""
        self._session.close()


def _answer(response: requests.Response) -> Answer:
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
    kept = {name: response.headers.get(name) for name in (*RATE_LIMIT_HEADERS, "Link")}
    return Answer(response.status_code, body, {k: v for k, v in kept.items() if v is not None})


def seconds_to_reset(headers: dict[str, str], bound: float) -> float:
    """Seconds until X-RateLimit-Reset (Unix seconds), at most `bound`, 1 if unknown."""
    try:
        left = float(headers["X-RateLimit-Reset"]) - time.time()
    except (KeyError, ValueError):
        return 1.0
    return min(max(left, 0.1), bound)
