"""Which Intercom operations the fake serves, and how a URL finds its operation.

Routes are named by the description's own path templates (`/contacts/{contact_id}`), so
call counts read like the API reference and the validator finds the operation by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from fake_intercom.store import Workspace


@dataclasses.dataclass(frozen=True, slots=True)
class Request:
    """What a route handler needs from one HTTP request."""

    params: dict[str, str]
    query: dict[str, str]
    body: Any
    search_lag: float


Handler = Callable[[Workspace, Request], Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Route:
    method: str
    template: str
    handler: Handler
    takes_body: bool = False
    status: int = 200

    @property
    def name(self) -> str:
        """How calls are counted: "POST /contacts/{contact_id}/tags"."""
        return f"{self.method} {self.template}"


def _is_true(value: str | None) -> bool:
    return value in ("true", "1")


# The admin behind the token, and its workspace: what `GET /me` answers (the app's name
# is the workspace's, set per fake).
ME: dict[str, Any] = {
    "type": "admin",
    "id": "991267459",
    "name": "Fake Admin",
    "email": "admin@fake-intercom.test",
    "email_verified": True,
    "app": {
        "type": "app",
        "id_code": "fakeintercom",
        "name": "Fake Intercom",
        "created_at": 1734537243,
        "identity_verification": False,
        "timezone": "Etc/UTC",
        "region": "US",
    },
}

ROUTES: tuple[Route, ...] = (
    Route("GET", "/me", lambda ws, r: {**ME, "app": {**ME["app"], "name": ws.app_name}}),
    Route("POST", "/contacts", lambda ws, r: ws.contacts.create(r.body), takes_body=True),
    Route("GET", "/contacts", lambda ws, r: ws.contacts.listing(r.query)),
    Route("POST", "/contacts/merge", lambda ws, r: ws.merge_lead(r.body), takes_body=True),
    Route("POST", "/contacts/search", lambda ws, r: ws.contacts.search(r.body, r.search_lag), True),
    Route(
        "GET",
        "/contacts/find_by_external_id/{external_id}",
        lambda ws, r: ws.contacts.find_by_external_id(r.params["external_id"]),
    ),
    Route(
        "GET",
        "/contacts/{contact_id}",
        lambda ws, r: ws.contacts.live(r.params["contact_id"]).render(),
    ),
    Route(
        "PUT",
        "/contacts/{contact_id}",
        lambda ws, r: ws.contacts.update(r.params["contact_id"], r.body),
        takes_body=True,
    ),
    Route(
        "DELETE", "/contacts/{contact_id}", lambda ws, r: ws.delete_contact(r.params["contact_id"])
    ),
    Route(
        "POST",
        "/contacts/{contact_id}/archive",
        lambda ws, r: ws.contacts.set_archived(r.params["contact_id"], True),
    ),
    Route(
        "POST",
        "/contacts/{contact_id}/unarchive",
        lambda ws, r: ws.contacts.set_archived(r.params["contact_id"], False),
    ),
    Route(
        "GET",
        "/contacts/{contact_id}/companies",
        lambda ws, r: ws.contact_companies(r.params["contact_id"]),
    ),
    Route(
        "POST",
        "/contacts/{contact_id}/companies",
        lambda ws, r: ws.attach_company(r.params["contact_id"], r.body),
        takes_body=True,
    ),
    Route(
        "DELETE",
        "/contacts/{contact_id}/companies/{company_id}",
        lambda ws, r: ws.detach_company(r.params["contact_id"], r.params["company_id"]),
    ),
    Route(
        "GET",
        "/contacts/{contact_id}/tags",
        lambda ws, r: ws.contact_tag_list(r.params["contact_id"]),
    ),
    Route(
        "POST",
        "/contacts/{contact_id}/tags",
        lambda ws, r: ws.tag_contact(r.params["contact_id"], r.body),
        takes_body=True,
    ),
    Route(
        "DELETE",
        "/contacts/{contact_id}/tags/{tag_id}",
        lambda ws, r: ws.untag_contact(r.params["contact_id"], r.params["tag_id"]),
    ),
    Route(
        "GET",
        "/data_attributes",
        lambda ws, r: {
            "type": "list",
            "data": ws.attributes.listing(
                r.query.get("model"), _is_true(r.query.get("include_archived"))
            ),
        },
    ),
    Route("POST", "/data_attributes", lambda ws, r: ws.attributes.create(r.body), takes_body=True),
    Route("POST", "/companies", lambda ws, r: ws.upsert_company(r.body), takes_body=True),
    Route("GET", "/companies", lambda ws, r: ws.list_companies(r.query)),
    Route("GET", "/companies/{company_id}", lambda ws, r: ws.get_company(r.params["company_id"])),
    Route(
        "DELETE",
        "/companies/{company_id}",
        lambda ws, r: ws.delete_company_by_id(r.params["company_id"]),
    ),
    Route("POST", "/tags", lambda ws, r: ws.tag(r.body), takes_body=True),
    Route("GET", "/tags", lambda ws, r: ws.list_tags()),
    Route("POST", "/events", lambda ws, r: ws.create_event(r.body), takes_body=True, status=202),
    Route("GET", "/events", lambda ws, r: ws.list_events(r.query)),
    Route(
        "POST",
        "/custom_object_instances/{custom_object_type_identifier}",
        lambda ws, r: ws.custom_objects.upsert(r.params["custom_object_type_identifier"], r.body),
        takes_body=True,
    ),
    Route(
        "GET",
        "/custom_object_instances/{custom_object_type_identifier}",
        lambda ws, r: ws.contact_custom_objects(r.params["custom_object_type_identifier"], r.query),
    ),
    Route(
        "DELETE",
        "/custom_object_instances/{custom_object_type_identifier}",
        lambda ws, r: ws.delete_custom_object(
            r.params["custom_object_type_identifier"], r.query.get("external_id")
        ),
    ),
    Route(
        "GET",
        "/custom_object_instances/{custom_object_type_identifier}/{custom_object_instance_id}",
        lambda ws, r: ws.custom_objects.get(
            r.params["custom_object_type_identifier"], r.params["custom_object_instance_id"]
        ),
    ),
)


class Router:
    """Match a method and URL path to a route, literal segments beating parameters
    (so `/contacts/search` is never read as a contact id)."""

    def __init__(self, routes: tuple[Route, ...] = ROUTES) -> None:
        self._table: dict[tuple[str, int], list[tuple[list[str | None], list[str], Route]]] = {}
        for route in routes:
            parts = route.template.strip("/").split("/")
            pattern = [None if p.startswith("{") else p for p in parts]
            names = [p[1:-1] for p in parts if p.startswith("{")]
            self._table.setdefault((route.method, len(parts)), []).append((pattern, names, route))
        for candidates in self._table.values():
            candidates.sort(key=lambda item: [p is None for p in item[0]])

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        parts = path.strip("/").split("/")
        for pattern, names, route in self._table.get((method, len(parts)), ()):
            if all(p is None or p == s for p, s in zip(pattern, parts, strict=True)):
                values = [unquote(s) for p, s in zip(pattern, parts, strict=True) if p is None]
                if all(values):
                    return route, dict(zip(names, values, strict=True))
        return None
