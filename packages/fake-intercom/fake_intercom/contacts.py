"""Contacts with Intercom's identity rules: 409 conflicts, archiving, and a lagging search.

These are the rules that make "exactly one contact per person" hard for the target (a
create answers 409 with the existing id, or with no id when several users share the
email, search does not see contacts written a moment ago, archived contacts must be
unarchived, a merged contact's id answers 410), so the fake reproduces each of them.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import math
import time
from collections.abc import Iterable
from typing import Any, Literal, get_args

from fake_intercom.attributes import DataAttributes
from fake_intercom.custom_objects import CustomObjects
from fake_intercom.errors import ApiError, contact_merged, invalid, user_not_found
from fake_intercom.records import (
    CONTACT_FIELDS,
    Contact,
    IdMaker,
    check_fields,
    merge_custom_attributes,
)
from fake_intercom.search import (
    MAX_PER_PAGE,
    compile_query,
    equality_keys,
    paginate,
)

ROLES = ("user", "lead")
# What a create carrying a new external_id and the email of a user without one does. Not
# documented (see intercom-facts.md): "conflict" answers 409 naming that user, "duplicate"
# makes a second user with the same email, as some believe Intercom does.
EmailMatch = Literal["conflict", "duplicate"]
EMAIL_MATCH_MODES: tuple[EmailMatch, ...] = get_args(EmailMatch)
# `GET /contacts`'s page when none is asked for (search's is 50).
LIST_DEFAULT_PER_PAGE = 10
BAD_CURSOR_MESSAGE = (
    "Invalid starting_after param. Please try again using a starting_after value from a"
    " paginated response"
)


def check_email_match(mode: Any) -> EmailMatch:
    """`mode` if it is one of EMAIL_MATCH_MODES, else ValueError (a caller's mistake)."""
    if mode not in EMAIL_MATCH_MODES:
        raise ValueError(f"email_match_on_create must be one of {', '.join(EMAIL_MATCH_MODES)}")
    return mode


class Contacts:
    """A workspace's contacts, indexed by id, external_id and email.

    A merged contact leaves every index and `by_id`; `merged` remembers its id (mapped to
    the contact it went into) so that requests naming it answer 410, not 404. `by_id`
    keeps creation order, which is also id order (see IdMaker): listing relies on it.
    """

    def __init__(
        self,
        attributes: DataAttributes,
        ids: IdMaker,
        email_match_on_create: EmailMatch,
        custom_objects: CustomObjects | None = None,
    ) -> None:
        self.by_id: dict[str, Contact] = {}
        self.merged: dict[str, str] = {}  # merged contact's id -> id it was merged into
        # A merged user's external_id -> its id: find_by_external_id answers 410 for it.
        self._merged_external_ids: dict[str, str] = {}
        self.email_match_on_create = email_match_on_create
        self._attributes = attributes
        self._objects = custom_objects or CustomObjects()
        self._ids = ids
        # For listing without scanning 200,000 contacts a page: archived ids, and by_id's
        # keys as a list to bisect (None until needed, and again after a removal).
        self._archived: set[str] = set()
        self._order: list[str] | None = None
        self._by_external_id: dict[str, Contact] = {}
        self._by_email: dict[str, list[Contact]] = {}

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        check_fields(body, CONTACT_FIELDS)
        role = body.get("role", "user")
        if role not in ROLES:
            raise invalid(f"role must be one of {', '.join(ROLES)}")
        external_id, email = body.get("external_id"), body.get("email")
        if external_id is None and email is None and "role" not in body:
            raise invalid("A contact needs at least one of email, external_id or role")
        _check_lead_external_id(role, body)
        custom = self._custom_attributes(body)
        if external_id is None and email is not None and role == "user":
            self._check_email_is_specific(email)
        # With "duplicate", a create that names an external_id never meets a user by email
        # (one holding another external_id never did): only the external_id can collide.
        duplicate = external_id is not None and self.email_match_on_create == "duplicate"
        other = self._conflict(external_id, None if duplicate else email, role, external_id)
        if other is not None:
            raise _conflict_error(other)
        now = int(time.time())
        contact = Contact(
            id=self._ids.new(), role=role, created_at=now, updated_at=now, written_at=None
        )
        self._write(contact, body, custom)
        self._add(contact)
        return contact.render()

    def _check_email_is_specific(self, email: str) -> None:
        """A create by email alone, when several live users hold that email, names no
        contact in its 409: Intercom cannot tell which one the caller means."""
        holders = [
            c for c in self._by_email.get(email.lower(), ()) if c.role == "user" and not c.archived
        ]
        if len(holders) >= 2:
            raise ApiError(
                409,
                "conflict",
                "Multiple existing users match this email address - must be more specific"
                " using user_id",
            )

    def update(self, contact_id: str, body: dict[str, Any]) -> dict[str, Any]:
        contact = self.live(contact_id)
        check_fields(body, CONTACT_FIELDS)
        role = body.get("role", contact.role)
        if role not in ROLES:
            raise invalid(f"role must be one of {', '.join(ROLES)}")
        if contact.role == "user" and role == "lead":
            raise invalid("A user can't be converted to a lead")
        _check_lead_external_id(role, body)
        custom = self._custom_attributes(body)
        external_id = body.get("external_id", contact.external_id)
        email = body.get("email", contact.email)
        other = self._conflict(
            external_id if external_id != contact.external_id else None,
            email if _lower(email) != _lower(contact.email) else None,
            role,
            external_id,
            exclude=contact,
        )
        if other is not None:
            raise _conflict_error(other)
        self._write(contact, body, custom)
        return contact.render()

    def find_by_external_id(self, external_id: str) -> dict[str, Any]:
        """Users only, as Intercom documents: a lead with this external_id is not found.
        A merged user's external_id answers 410 naming the canonical contact, unless a
        live user holds it again."""
        contact = self._by_external_id.get(external_id)
        if contact is None and external_id in self._merged_external_ids:
            raise contact_merged(self.canonical(self._merged_external_ids[external_id]))
        if contact is None or contact.archived or contact.role != "user":
            raise user_not_found()
        return contact.render()

    def remove(self, contact_id: str) -> Contact:
        """Delete a contact (archived or not); the caller cleans up its memberships."""
        contact = self.any(contact_id)
        self._unindex(contact)
        del self.by_id[contact.id]
        self._order = None
        self._archived.discard(contact.id)
        return contact

    def merge(self, from_id: str, into_id: str) -> Contact:
        """Merge `from_id` into `into_id` as Intercom does when someone merges two people:
        `from` leaves every index (and with it its tags), and its id answers 410 from now
        on; `into` is unchanged. The caller cleans up `from`'s memberships."""
        if from_id == into_id:
            raise ValueError("a contact can't be merged into itself")
        for contact_id in (from_id, into_id):
            if contact_id not in self.by_id:
                raise ValueError(f"no contact with id {contact_id!r} to merge")
        contact = self.remove(from_id)
        self.merged[from_id] = into_id
        if contact.external_id is not None and contact.role == "user":
            self._merged_external_ids[contact.external_id] = from_id
        return contact

    def canonical(self, merged_id: str) -> str:
        """The contact a merged one lives on as: the end of its chain of merges (A into B,
        then B into C: A's canonical contact is C)."""
        contact_id = merged_id
        for _ in range(len(self.merged)):
            if contact_id not in self.merged:
                break
            contact_id = self.merged[contact_id]
        return contact_id

    def set_archived(self, contact_id: str, archived: bool) -> dict[str, Any]:
        """Archive or unarchive; either is a write that search must catch up with."""
        contact = self.any(contact_id)
        self._set_archived(contact, archived)
        contact.updated_at = int(time.time())
        contact.written_at = time.monotonic()
        return {**contact.reference(), "archived": archived}

    def search(self, body: dict[str, Any], lag: float) -> dict[str, Any]:
        """Contacts matching the query, except archived ones and those written < `lag` ago.

        An empty page comes with no `data` key at all, as Intercom's may (rudder-transformer
        PR #5198; intercom-facts.md): a client must not count on the key."""
        if "query" not in body:
            raise invalid("query is required")
        predicate = compile_query(body["query"])
        keys = equality_keys(body["query"])
        candidates = self.by_id.values() if keys is None else self._candidates(*keys)
        now = time.monotonic()
        matches = [
            c
            for c in candidates
            if not c.archived
            and c.written_at is not None
            and now - c.written_at >= lag
            and predicate(c)
        ]
        page, pages = paginate(matches, body.get("pagination"))
        found: dict[str, Any] = {"type": "list", "total_count": len(matches), "pages": pages}
        if page:
            found["data"] = [c.render() for c in page]
        return found

    def seed(
        self,
        external_id: str | None,
        email: str | None,
        role: str,
        archived: bool,
        searchable: bool,
        fields: dict[str, Any],
    ) -> str:
        """Add a contact as if someone else had created it, bypassing the API's checks
        except external_id uniqueness (which no workspace can violate)."""
        unknown = set(fields) - set(CONTACT_FIELDS) - {"custom_attributes"}
        if unknown:
            raise TypeError(f"seed_contact got unknown fields {sorted(unknown)}")
        if external_id is not None and external_id in self._by_external_id:
            raise ValueError(f"a contact with external_id {external_id!r} exists")
        now = int(time.time())
        contact = Contact(
            id=self._ids.new(), role=role, created_at=now, updated_at=now, written_at=None
        )
        fields = dict(fields)
        custom = fields.pop("custom_attributes", None) or {}
        self._write(contact, {**fields, "external_id": external_id, "email": email}, custom)
        self._set_archived(contact, archived)
        contact.written_at = float("-inf") if searchable else None
        self._add(contact)
        return contact.id

    def edit(self, contact_id: str, fields: dict[str, Any], at: int | None) -> None:
        """Change a contact as a teammate in Intercom's UI would, without the API's checks:
        fields and custom attributes (None clears one) change, and `updated_at` becomes
        `at`, or now, but always later than the write before (Intercom's seconds would
        otherwise hide an edit made the second after a client's write)."""
        contact = self.any(contact_id)
        fields = dict(fields)
        custom = fields.pop("custom_attributes", None) or {}
        unknown = set(fields) - set(CONTACT_FIELDS)
        if unknown:
            raise TypeError(f"edit_contact got unknown fields {sorted(unknown)}")
        before = contact.updated_at
        self._write(contact, fields, custom)
        contact.updated_at = at if at is not None else max(contact.updated_at, before + 1)

    def _add(self, contact: Contact) -> None:
        self.by_id[contact.id] = contact
        if self._order is not None:
            self._order.append(contact.id)

    def _set_archived(self, contact: Contact, archived: bool) -> None:
        contact.archived = archived
        if archived:
            self._archived.add(contact.id)
        else:
            self._archived.discard(contact.id)

    def listing(self, query: dict[str, str]) -> dict[str, Any]:
        """`GET /contacts`: one page of contacts in creation order, cursor-paginated.

        Archived contacts are not listed: Intercom's staff say the API "does not support
        listing archived contacts" (intercom-node issue #333), and the description says
        merged contacts do not appear (the fake holds them nowhere but `merged`). Unlike
        search, the list does not lag behind writes.

        The cursor names the last contact of the page, and the next page starts after it
        in creation order, so contacts created (always last) or deleted while a client
        pages through shift nothing: each contact listed throughout is seen exactly once.
        `per_page` defaults to 10: the operation's text says 50, but its example answers
        `per_page: 10` and Intercom-OpenAPI PR #639 says 10 (intercom-facts.md). At most
        150: the description gives its other cursor lists that limit as the schema's
        `maximum` (a request past it does not fit); whether Intercom refuses or caps a
        larger `per_page` here is not documented, so the fake refuses it (the stricter
        reading). Its 2.16 parameters list only `include_merge_history`, ignored here.
        """
        try:
            per_page = int(query.get("per_page", LIST_DEFAULT_PER_PAGE))
        except ValueError as exc:
            raise invalid("per_page must be an integer") from exc
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise invalid(f"per_page must be between 1 and {MAX_PER_PAGE}")
        if self._order is None:
            self._order = list(self.by_id)
        ids = self._order  # creation order is id order: bisect finds the cursor
        after = _decode_cursor(query["starting_after"]) if "starting_after" in query else None
        start = 0 if after is None else bisect.bisect_right(ids, after)
        archived_before = 0 if after is None else sum(1 for i in self._archived if i <= after)
        page: list[Contact] = []
        more = False
        for index in range(start, len(ids)):
            contact_id = ids[index]
            if contact_id in self._archived:
                continue
            if len(page) == per_page:
                more = True
                break
            page.append(self.by_id[contact_id])
        total = len(ids) - len(self._archived)
        pages: dict[str, Any] = {
            "type": "pages",
            "page": (start - archived_before) // per_page + 1,
            "per_page": per_page,
            "total_pages": math.ceil(total / per_page),
        }
        if more:
            pages["next"] = {"per_page": per_page, "starting_after": _encode_cursor(page[-1].id)}
        return {
            "type": "list",
            "data": [c.render() for c in page],
            "total_count": total,
            "pages": pages,
        }

    def live(self, contact_id: Any) -> Contact:
        """The contact behind an id unless deleted or archived. Archived contacts answer
        404 until unarchived, which is stricter than needed if Intercom is lenient and
        right if it is not: a client that unarchives first works either way."""
        contact = self.any(contact_id) if isinstance(contact_id, str) else None
        if contact is None or contact.archived:
            raise user_not_found()
        return contact

    def any(self, contact_id: str) -> Contact:
        """The contact behind an id, archived or not; 410 for a merged contact's id."""
        contact = self.by_id.get(contact_id)
        if contact is None:
            if contact_id in self.merged:
                raise contact_merged(self.canonical(contact_id))
            raise user_not_found()
        return contact

    def for_event(self, body: dict[str, Any]) -> Contact:
        """`id` finds any contact (410 if merged); `user_id` (external_id) and `email`
        find users only, so an event for a lead must name the lead's `id`."""
        contact: Contact | None = None
        if body.get("id") is not None:
            contact = self.any(body["id"]) if isinstance(body["id"], str) else None
        elif body.get("user_id") is not None:
            user_id = body["user_id"]
            contact = self._by_external_id.get(user_id) if isinstance(user_id, str) else None
            contact = contact if contact is not None and contact.role == "user" else None
        elif isinstance(body.get("email"), str):
            users = [
                c
                for c in self._by_email.get(body["email"].lower(), [])
                if c.role == "user" and not c.archived
            ]
            contact = min(users, key=lambda c: c.id) if users else None
        else:
            raise invalid("One of id, user_id or email is required")
        if contact is None or contact.archived:
            raise user_not_found()
        return contact

    def _conflict(
        self,
        external_id: str | None,
        email: str | None,
        role: str,
        holder_external_id: str | None,
        exclude: Contact | None = None,
    ) -> Contact | None:
        """The contact a write of `external_id`/`email` would collide with, if any.

        External ids are unique. Two users may share an email only when both carry
        (different) external ids; leads never collide by email.
        """
        if external_id is not None:
            other = self._by_external_id.get(external_id)
            if other is not None and other is not exclude:
                return other
        if email is not None and role == "user":
            for other in self._by_email.get(email.lower(), ()):
                if (
                    other is not exclude
                    and other.role == "user"
                    and (holder_external_id is None or other.external_id is None)
                ):
                    return other
        return None

    def _custom_attributes(self, body: dict[str, Any]) -> dict[str, Any]:
        """Checked values: reference attributes (lists of custom object instance ids) by
        their own rule, the others by their data attribute's."""
        values = body.get("custom_attributes")
        if values is None:
            return {}
        references = self._objects.references
        if not isinstance(values, dict) or not references.keys() & values.keys():
            return self._attributes.check_values("contact", values)
        plain = {k: v for k, v in values.items() if k not in references}
        checked = self._attributes.check_values("contact", plain)
        for name in references.keys() & values.keys():
            checked[name] = self._objects.check_reference(name, values[name])
        return checked

    def _write(self, contact: Contact, body: dict[str, Any], custom: dict[str, Any]) -> None:
        """Apply checked fields to a contact, keeping the indexes and search lag right."""
        self._unindex(contact)
        for name in CONTACT_FIELDS.keys() & body.keys():
            value = body[name]
            if name == "unsubscribed_from_emails" and value is None:
                value = False
            setattr(contact, name, value)
        merge_custom_attributes(contact.custom_attributes, custom)
        contact.updated_at = int(time.time())
        contact.written_at = time.monotonic()
        self._index(contact)

    def _index(self, contact: Contact) -> None:
        if contact.external_id is not None:
            self._by_external_id[contact.external_id] = contact
        if contact.email:
            self._by_email.setdefault(contact.email.lower(), []).append(contact)

    def _unindex(self, contact: Contact) -> None:
        external_id = contact.external_id
        if external_id is not None and self._by_external_id.get(external_id) is contact:
            del self._by_external_id[external_id]
        holders = self._by_email.get(contact.email.lower()) if contact.email else None
        if holders and contact in holders:
            holders.remove(contact)

    def _candidates(self, field: str, values: Iterable[Any]) -> list[Contact]:
        """The contacts an index gives for an equality filter, in creation order."""
        found: dict[str, Contact] = {}
        for value in values:
            if not isinstance(value, str):
                continue
            if field == "id":
                hits = [self.by_id[value]] if value in self.by_id else []
            elif field == "external_id":
                hits = [self._by_external_id[value]] if value in self._by_external_id else []
            else:
                hits = self._by_email.get(value.lower(), [])
            found.update((c.id, c) for c in hits)
        return sorted(found.values(), key=lambda c: c.id)


def _encode_cursor(contact_id: str) -> str:
    """Opaque, like Intercom's base64 cursors; it holds the page's last contact id."""
    return base64.urlsafe_b64encode(contact_id.encode()).decode()


def _decode_cursor(cursor: str) -> str:
    """The contact id inside a cursor. A cursor the fake did not make is refused with the
    answer the description gives for one (on another cursor-paginated list)."""
    try:
        contact_id = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        contact_id = ""
    if len(contact_id) != 24 or any(c not in "0123456789abcdef" for c in contact_id):
        raise ApiError(400, "client_error", BAD_CURSOR_MESSAGE)
    return contact_id


def _check_lead_external_id(role: str, body: dict[str, Any]) -> None:
    """A lead carries no external_id: Segment's Intercom action says "External IDs cannot
    be set if the role is `lead`", and whether Intercom refuses or drops one is not
    documented (intercom-facts.md, Leads), so the fake takes the stricter reading and
    refuses the write. A null clears nothing a lead could hold and is let through."""
    if role == "lead" and body.get("external_id") is not None:
        raise invalid("External IDs cannot be set if the role is lead")


def _conflict_error(other: Contact) -> ApiError:
    which = "An archived contact" if other.archived else "A contact"
    return ApiError(
        409, "conflict", f"{which} matching those details already exists with id={other.id}"
    )


def _lower(value: str | None) -> str | None:
    return value.lower() if value else value
