"""The records a fake workspace holds, and how Intercom renders each as JSON.

Responses follow the description's `contact` and `company` schemas (and its example
responses), so a client parsing the fake's answers parses Intercom's.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
import zlib
from collections.abc import Mapping
from typing import Any

from fake_intercom.errors import invalid

WORKSPACE_ID = "fakeintercom"

# Contact fields a request may set, with the JSON types the description gives them and
# whether null is allowed (`bool` is excluded from `int` where the check is made).
CONTACT_FIELDS: dict[str, tuple[type, bool]] = {
    "role": (str, False),
    "external_id": (str, False),
    "email": (str, False),
    "phone": (str, True),
    "name": (str, True),
    "avatar": (str, True),
    "owner_id": (str, True),
    "signed_up_at": (int, True),
    "last_seen_at": (int, True),
    "unsubscribed_from_emails": (bool, True),
}
COMPANY_FIELDS: dict[str, tuple[type, bool]] = {
    "name": (str, False),
    "plan": (str, False),
    "size": (int, False),
    "website": (str, False),
    "industry": (str, False),
    "remote_created_at": (int, False),
}


@dataclasses.dataclass(slots=True, eq=False)
class Contact:
    """A contact (user or lead). `written_at` is the monotonic time of its last write,
    which search lags behind; None means search has never seen it."""

    id: str
    role: str
    created_at: int
    updated_at: int
    written_at: float | None
    external_id: str | None = None
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    avatar: str | None = None
    owner_id: str | None = None
    signed_up_at: int | None = None
    last_seen_at: int | None = None
    unsubscribed_from_emails: bool = False
    archived: bool = False
    custom_attributes: dict[str, Any] = dataclasses.field(default_factory=dict)
    tag_ids: dict[str, None] = dataclasses.field(default_factory=dict)
    company_ids: dict[str, None] = dataclasses.field(default_factory=dict)

    def value(self, field: str) -> Any:
        """A field's value as search sees it."""
        if field.startswith("custom_attributes."):
            return self.custom_attributes.get(field[len("custom_attributes.") :])
        if field == "email_domain":
            return self.email.rpartition("@")[2] if self.email else None
        return getattr(self, field)

    def reference(self) -> dict[str, Any]:
        return {"type": "contact", "id": self.id, "external_id": self.external_id}

    def render(self) -> dict[str, Any]:
        """The contact object of `GET /contacts/{id}`: a fresh dict, safe to hand out."""
        base = f"/contacts/{self.id}"
        return {
            "type": "contact",
            "id": self.id,
            "workspace_id": WORKSPACE_ID,
            "external_id": self.external_id,
            "role": self.role,
            "email": self.email,
            "email_domain": self.value("email_domain"),
            "phone": self.phone,
            "name": self.name,
            "avatar": {"type": "avatar", "image_url": self.avatar} if self.avatar else None,
            "owner_id": self.owner_id,
            "social_profiles": {"type": "list", "data": []},
            "has_hard_bounced": False,
            "marked_email_as_spam": False,
            "unsubscribed_from_emails": self.unsubscribed_from_emails,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "signed_up_at": self.signed_up_at,
            "last_seen_at": self.last_seen_at,
            "last_replied_at": None,
            "last_contacted_at": None,
            "last_email_opened_at": None,
            "last_email_clicked_at": None,
            "language_override": None,
            "browser": None,
            "browser_version": None,
            "browser_language": None,
            "os": None,
            "location": {
                "type": "location",
                "country": None,
                "region": None,
                "city": None,
                "country_code": None,
                "continent_code": None,
            },
            "android_app_name": None,
            "android_app_version": None,
            "android_device": None,
            "android_os_version": None,
            "android_sdk_version": None,
            "android_last_seen_at": None,
            "ios_app_name": None,
            "ios_app_version": None,
            "ios_device": None,
            "ios_os_version": None,
            "ios_sdk_version": None,
            "ios_last_seen_at": None,
            "custom_attributes": dict(self.custom_attributes),
            "tags": _list(
                [{"type": "tag", "id": t, "url": f"/tags/{t}"} for t in self.tag_ids],
                f"{base}/tags",
            ),
            "notes": _list([], f"{base}/notes"),
            "companies": _list(
                [{"type": "company", "id": c, "url": f"/companies/{c}"} for c in self.company_ids],
                f"{base}/companies",
            ),
            "opted_out_subscription_types": _list([], f"{base}/subscriptions"),
            "opted_in_subscription_types": _list([], f"{base}/subscriptions"),
            "utm_campaign": None,
            "utm_content": None,
            "utm_medium": None,
            "utm_source": None,
            "utm_term": None,
            "referrer": None,
            "enabled_push_messaging": None,
        }


def _list(data: list[dict[str, Any]], url: str) -> dict[str, Any]:
    return {"type": "list", "data": data, "url": url, "total_count": len(data), "has_more": False}


@dataclasses.dataclass(slots=True, eq=False)
class Company:
    """A company; `company_id` is the caller's id (immutable), `id` is Intercom's."""

    id: str
    company_id: str
    created_at: int
    updated_at: int
    name: str | None = None
    plan: str | None = None
    size: int | None = None
    website: str | None = None
    industry: str | None = None
    monthly_spend: int = 0
    remote_created_at: int | None = None
    last_request_at: int | None = None
    custom_attributes: dict[str, Any] = dataclasses.field(default_factory=dict)
    tag_ids: dict[str, None] = dataclasses.field(default_factory=dict)
    contact_ids: dict[str, None] = dataclasses.field(default_factory=dict)

    def render(self, tag_names: Mapping[str, str]) -> dict[str, Any]:
        """The company object; `tag_names` maps tag ids to names for its tag list."""
        plan = {"type": "plan", "id": _plan_id(self.plan), "name": self.plan} if self.plan else {}
        return {
            "type": "company",
            "company_id": self.company_id,
            "id": self.id,
            "app_id": WORKSPACE_ID,
            "name": self.name,
            "remote_created_at": self.remote_created_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "last_request_at": self.last_request_at,
            "monthly_spend": self.monthly_spend,
            "session_count": 0,
            "user_count": len(self.contact_ids),
            "size": self.size,
            "website": self.website,
            "industry": self.industry,
            "tags": {
                "type": "tag.list",
                "tags": [{"type": "tag", "id": t, "name": tag_names[t]} for t in self.tag_ids],
            },
            "segments": {"type": "segment.list", "segments": []},
            "plan": plan,
            "custom_attributes": dict(self.custom_attributes),
        }


def _plan_id(plan: str) -> str:
    """A stable numeric id per plan name, as Intercom gives plans ids of their own."""
    return str(zlib.crc32(plan.encode()) % 10**7)


def check_fields(body: Mapping[str, Any], fields: Mapping[str, tuple[type, bool]]) -> None:
    """Refuse standard fields whose JSON types differ from the description's."""
    problems = []
    for name, (kind, nullable) in fields.items():
        if name not in body:
            continue
        value = body[name]
        if value is None:
            if not nullable:
                problems.append(f"{name} can't be null")
        elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            problems.append(f"{name} must be of type {_JSON_TYPE[kind]}, not {value!r}")
    if problems:
        raise invalid("; ".join(problems))


_JSON_TYPE = {str: "string", int: "integer", bool: "boolean"}


def merge_custom_attributes(target: dict[str, Any], changes: Mapping[str, Any]) -> None:
    """Apply custom attribute changes: null clears an attribute, anything else sets it."""
    for key, value in changes.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value


class IdMaker:
    """Ids shaped like Intercom's: 24 hex digits, in creation order (time, a random
    per-workspace part, a counter), so sorting by id is sorting by creation."""

    def __init__(self) -> None:
        self._prefix = os.urandom(5).hex()
        self._counter = itertools.count(1)

    def new(self) -> str:
        return f"{int(time.time()):08x}{self._prefix}{next(self._counter) % 16**6:06x}"
