"""The in-memory workspace: contacts, companies, memberships, tags and events.

Every method applies one API call with Intercom's rules and either returns the response
body or raises `ApiError` before changing anything. The workspace is not thread-safe on
its own: the server holds one lock around each call.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from fake_intercom.attributes import MAX_CUSTOM_ATTRIBUTES, DataAttributes
from fake_intercom.contacts import Contacts, EmailMatch
from fake_intercom.custom_objects import CustomObjects
from fake_intercom.errors import ApiError, company_not_found, invalid
from fake_intercom.events import EventLog, parse_event
from fake_intercom.records import (
    COMPANY_FIELDS,
    Company,
    Contact,
    IdMaker,
    check_fields,
    merge_custom_attributes,
)

MAX_COMPANIES_PER_CONTACT = 1000
DEFAULT_COMPANIES_PER_PAGE = 15
MAX_MONTHLY_SPEND = 2**31 - 1


class Workspace:
    """One Intercom workspace's data and rules."""

    def __init__(
        self,
        max_event_names: int = 120,
        max_custom_attributes: int = MAX_CUSTOM_ATTRIBUTES,
        email_match_on_create: EmailMatch = "conflict",
        app_name: str = "Fake Intercom",
    ) -> None:
        # The workspace's name, as `GET /me` answers it in `app.name`: what a smoke test
        # of a real workspace checks before it writes anything.
        self.app_name = app_name
        self.custom_objects = CustomObjects()
        self.attributes = DataAttributes(max_custom_attributes, self.custom_objects.references)
        self.event_log = EventLog(max_event_names)
        self._ids = IdMaker()
        self.contacts = Contacts(
            self.attributes, self._ids, email_match_on_create, self.custom_objects
        )
        self.companies: dict[str, Company] = {}
        self.tags: dict[str, str] = {}  # tag id -> name
        self._by_company_id: dict[str, Company] = {}
        self._tag_by_name: dict[str, str] = {}  # lower-cased name -> tag id
        self._tag_ids = itertools.count(1)

    def delete_contact(self, contact_id: str) -> dict[str, Any]:
        """Delete a contact and its memberships. The answer carries both the description's
        `type` and the `object` key that Intercom's live API sends."""
        contact = self.contacts.remove(contact_id)
        self._drop_memberships(contact)
        return {**contact.reference(), "object": "contact", "deleted": True}

    def merge_contacts(self, from_id: str, into_id: str) -> None:
        """Make `from_id` a merged contact: gone with its memberships and tags, its id
        answering 410 with a Link to `into_id`. `into_id` is left as it is: what Intercom
        copies onto it is not documented, so a target must not rely on any of it."""
        self._drop_memberships(self.contacts.merge(from_id, into_id))

    def _drop_memberships(self, contact: Contact) -> None:
        for company_id in contact.company_ids:
            self.companies[company_id].contact_ids.pop(contact.id, None)

    # ---------------------------------------------------------------- companies

    def upsert_company(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create or update by company_id, which never changes once set."""
        company_id = body.get("company_id")
        if not isinstance(company_id, str) or not company_id:
            raise ApiError(400, "parameter_not_found", "company_id not specified")
        check_fields(body, COMPANY_FIELDS)
        spend = body.get("monthly_spend")
        if spend is not None and (isinstance(spend, bool) or not isinstance(spend, (int, float))):
            raise invalid(f"monthly_spend must be of type integer, not {spend!r}")
        # "Note that this has an upper limit of 2**31-1 or 2147483647" (the 2.16
        # description). Whether a larger value is refused or capped is not documented:
        # the fake refuses it, the stricter reading.
        if spend is not None and int(spend) > MAX_MONTHLY_SPEND:  # floats are truncated
            raise invalid(f"monthly_spend must be at most {MAX_MONTHLY_SPEND}, not {spend!r}")
        values = body.get("custom_attributes")
        custom = {} if values is None else self.attributes.check_values("company", values)
        company = self._by_company_id.get(company_id)
        if company is None:
            now = int(time.time())
            company = Company(
                id=self._ids.new(), company_id=company_id, created_at=now, updated_at=now
            )
            self.companies[company.id] = company
            self._by_company_id[company_id] = company
        self._write_company(company, body, custom)
        return company.render(self.tags)

    def seed_company(self, company_id: str, fields: dict[str, Any]) -> str:
        """Add or update a company without the API's checks (for tests that need odd data)."""
        fields = dict(fields)
        custom = fields.pop("custom_attributes", None) or {}
        now = int(time.time())
        company = self._by_company_id.get(company_id) or Company(
            id=self._ids.new(), company_id=company_id, created_at=now, updated_at=now
        )
        self.companies[company.id] = company
        self._by_company_id[company_id] = company
        self._write_company(company, fields, custom)
        return company.id

    def _write_company(
        self, company: Company, body: dict[str, Any], custom: dict[str, Any]
    ) -> None:
        for name in COMPANY_FIELDS.keys() & body.keys():
            setattr(company, name, body[name])
        if body.get("monthly_spend") is not None:
            company.monthly_spend = int(body["monthly_spend"])  # Intercom truncates floats
        now = int(time.time())
        if body.get("update_last_request_at") is True:
            company.last_request_at = now
        merge_custom_attributes(company.custom_attributes, custom)
        company.updated_at = now

    def delete_company(self, company_id: str) -> str:
        """Remove the company whose company_id (the caller's id) this is, as someone in
        Intercom's UI might, and return its Intercom id; ValueError if there is none.

        Its memberships and tags go with it, and every call naming its Intercom id answers
        404 `company_not_found`, the description's answer for an unknown company on get,
        attach, detach and tag. Intercom's own delete (`DELETE /companies/{id}`) archives
        the company and detaches its contacts; whether an archived company answers 404
        too is not documented. Its company_id is free again here: a later
        `POST /companies` with it makes a new company with a new Intercom id (whether
        Intercom would revive the archived one instead is not documented either).
        """
        company = self._by_company_id.pop(company_id, None)
        if company is None:
            raise ValueError(f"no company with company_id {company_id!r} to delete")
        del self.companies[company.id]
        for contact_id in company.contact_ids:
            contact = self.contacts.by_id.get(contact_id)
            if contact is not None:
                contact.company_ids.pop(company.id, None)
        return company.id

    def delete_company_by_id(self, intercom_id: str) -> dict[str, Any]:
        """`DELETE /companies/{id}` by Intercom's id: the company goes as `delete_company`
        removes it; an unknown id answers 404 `company_not_found`."""
        company = self.companies.get(intercom_id)
        if company is None:
            raise company_not_found()
        self.delete_company(company.company_id)
        return {"id": intercom_id, "object": "company", "deleted": True}

    def merge_lead(self, body: dict[str, Any]) -> dict[str, Any]:
        """`POST /contacts/merge`: a lead (`from`) into a user (`into`), the only merge the
        description allows; the answer is the user. Anything else is 400."""
        source, target = body.get("from"), body.get("into")
        lead = self.contacts.live(source)
        user = self.contacts.live(target)
        if lead.role != "lead" or user.role != "user":
            raise ApiError(400, "parameter_invalid", "Only a lead can be merged into a user")
        self.merge_contacts(lead.id, user.id)
        return user.render()

    def list_events(self, query: dict[str, str]) -> dict[str, Any]:
        """`GET /events?type=user&intercom_user_id=|user_id=|email=`: a contact's events,
        one page (the fake holds few), for clients that check what was stored."""
        if query.get("type") != "user":
            raise ApiError(400, "parameter_invalid", "type must be user")
        keys = ("intercom_user_id", "user_id", "email")
        given = [(k, query[k]) for k in keys if k in query]
        if len(given) != 1:
            raise ApiError(400, "parameter_invalid", "Name one of " + ", ".join(keys))
        key, value = given[0]
        events = [
            {"type": "event", **{k: e[k] for k in ("event_name", "created_at", *keys)}}
            | {"metadata": e["metadata"]}
            for e in self.event_log.events
            if e[key] == value
        ]
        return {"type": "event.list", "events": events, "pages": {}}

    def get_company(self, company_id: str) -> dict[str, Any]:
        company = self.companies.get(company_id)
        if company is None:
            raise company_not_found()
        return company.render(self.tags)

    def list_companies(self, query: dict[str, str]) -> dict[str, Any]:
        """`GET /companies`: with company_id or name, the single company (as the real API
        answers, not the list the description promises); otherwise a page of all."""
        if "company_id" in query or "name" in query:
            if "company_id" in query:
                found = self._by_company_id.get(query["company_id"])
            else:
                found = next((c for c in self.companies.values() if c.name == query["name"]), None)
            if found is None:
                raise company_not_found()
            return found.render(self.tags)
        companies = [
            c
            for c in self.companies.values()
            if ("tag_id" not in query or query["tag_id"] in c.tag_ids) and "segment_id" not in query
        ]
        try:
            page = int(query.get("page", 1))
            per_page = int(query.get("per_page", DEFAULT_COMPANIES_PER_PAGE))
        except ValueError as exc:
            raise invalid("page and per_page must be integers") from exc
        if page < 1 or per_page < 1:
            raise invalid("page and per_page must be positive")
        chosen = companies[(page - 1) * per_page : page * per_page]
        return {
            "type": "list",
            "data": [c.render(self.tags) for c in chosen],
            "pages": {
                "type": "pages",
                "next": None,
                "page": page,
                "per_page": per_page,
                "total_pages": -(-len(companies) // per_page),
            },
            "total_count": len(companies),
        }

    # -------------------------------------------------------------- memberships

    def attach_company(self, contact_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Attach by Intercom's company id (not company_id); attaching twice is harmless."""
        contact = self.contacts.live(contact_id)
        company_id = body.get("id")
        if not company_id:
            raise ApiError(400, "parameter_not_found", "company not specified")
        company = self.companies.get(company_id) if isinstance(company_id, str) else None
        if company is None:
            raise company_not_found()
        if company.id not in contact.company_ids:
            if len(contact.company_ids) >= MAX_COMPANIES_PER_CONTACT:
                raise ApiError(
                    400,
                    "contact_company_limit_exceeded",
                    f"Contact has reached the maximum of {MAX_COMPANIES_PER_CONTACT} company"
                    " associations",
                )
            contact.company_ids[company.id] = None
            company.contact_ids[contact.id] = None
        return company.render(self.tags)

    def detach_company(self, contact_id: str, company_id: str) -> dict[str, Any]:
        contact = self.contacts.live(contact_id)
        company = self.companies.get(company_id)
        if company is None:
            raise company_not_found()
        contact.company_ids.pop(company.id, None)
        company.contact_ids.pop(contact.id, None)
        return company.render(self.tags)

    def contact_companies(self, contact_id: str) -> dict[str, Any]:
        contact = self.contacts.live(contact_id)
        companies = [self.companies[c].render(self.tags) for c in contact.company_ids]
        return {
            "type": "list",
            "companies": companies,
            "total_count": len(companies),
            "pages": {"type": "pages", "next": None, "page": 1, "per_page": 50, "total_pages": 1},
        }

    # --------------------------------------------------------------------- tags

    def tag(self, body: dict[str, Any]) -> dict[str, Any]:
        """`POST /tags`: create (or rename) a tag, or tag/untag users or companies.

        Every target is looked up before anything changes, so one unknown id fails the
        whole call and tags nobody. Untagging is per item (`untag: true`, as the
        description has it) or for all items when the body itself says `untag: true`.
        """
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise invalid("invalid tag parameters")
        users, companies = body.get("users"), body.get("companies")
        items = [*(users or []), *(companies or [])]
        if any(v is not None and not isinstance(v, list) for v in (users, companies)) or any(
            not isinstance(item, dict) for item in items
        ):
            raise invalid("invalid tag parameters")
        contacts = [self.contacts.live(item.get("id")) for item in users or []]
        targets = [
            (self._company_ref(item), item.get("untag", body.get("untag")) is True)
            for item in companies or []
        ]
        if users is None and companies is None and "id" in body:
            tag_id = self._rename_tag(body["id"], name)
        else:
            tag_id = self._tag_named(name)
        for contact in contacts:
            contact.tag_ids[tag_id] = None
        for company, untag in targets:
            if untag:
                company.tag_ids.pop(tag_id, None)
            else:
                company.tag_ids[tag_id] = None
        return {
            **self._tag_object(tag_id),
            "users": [{"id": c.id, "tagged": True} for c in contacts],
            "companies": [{"id": c.id, "tagged": not untag} for c, untag in targets],
        }

    def list_tags(self) -> dict[str, Any]:
        return {"type": "list", "data": [self._tag_object(t) for t in self.tags]}

    def tag_contact(self, contact_id: str, body: dict[str, Any]) -> dict[str, Any]:
        contact = self.contacts.live(contact_id)
        tag_id = self._existing_tag(body.get("id"))
        contact.tag_ids[tag_id] = None
        return self._tag_object(tag_id)

    def untag_contact(self, contact_id: str, tag_id: str) -> dict[str, Any]:
        contact = self.contacts.live(contact_id)
        contact.tag_ids.pop(self._existing_tag(tag_id), None)
        return self._tag_object(tag_id)

    def contact_tag_list(self, contact_id: str) -> dict[str, Any]:
        contact = self.contacts.live(contact_id)
        return {"type": "list", "data": [self._tag_object(t) for t in contact.tag_ids]}

    def _tag_object(self, tag_id: str) -> dict[str, Any]:
        return {"type": "tag", "id": tag_id, "name": self.tags[tag_id]}

    def _tag_named(self, name: str) -> str:
        """The tag called `name` (names are case-insensitive), created if missing."""
        tag_id = self._tag_by_name.get(name.lower())
        if tag_id is None:
            tag_id = str(next(self._tag_ids))
            self.tags[tag_id] = name
            self._tag_by_name[name.lower()] = tag_id
        return tag_id

    def _rename_tag(self, tag_id: Any, name: str) -> str:
        tag_id = self._existing_tag(tag_id)
        if self._tag_by_name.get(name.lower(), tag_id) != tag_id:
            raise invalid(f"A tag named '{name}' already exists")
        del self._tag_by_name[self.tags[tag_id].lower()]
        self.tags[tag_id] = name
        self._tag_by_name[name.lower()] = tag_id
        return tag_id

    def _existing_tag(self, tag_id: Any) -> str:
        if not isinstance(tag_id, str) or tag_id not in self.tags:
            raise ApiError(404, "not_found", "Resource Not Found")
        return tag_id

    def _company_ref(self, item: dict[str, Any]) -> Company:
        """A company named by Intercom's `id` or by the caller's `company_id`."""
        company = None
        if isinstance(item.get("id"), str):
            company = self.companies.get(item["id"])
        elif isinstance(item.get("company_id"), str):
            company = self._by_company_id.get(item["company_id"])
        if company is None:
            raise company_not_found()
        return company

    # ----------------------------------------------------------- custom objects

    def contact_custom_objects(self, type_name: str, query: dict[str, str]) -> dict[str, Any]:
        """`GET /custom_object_instances/{type}`; `references_contact_id` names a live
        contact (404 "User Not Found" otherwise), whose reference attributes say which."""
        contact_id = query.get("references_contact_id")
        if contact_id is None or "external_id" in query:
            return self.custom_objects.listing(type_name, query, None)
        self.custom_objects.listing(type_name, {}, None)  # an unknown type answers first
        held = self.contacts.live(contact_id).custom_attributes
        references = {n: held[n] for n in self.custom_objects.references if n in held}
        return self.custom_objects.listing(type_name, query, references)

    def delete_custom_object(self, type_name: str, external_id: str | None) -> dict[str, Any]:
        """Remove an instance, and its id from every contact's reference attributes."""
        gone = self.custom_objects.delete(type_name, external_id)
        names = [n for n, t in self.custom_objects.references.items() if t == type_name]
        for contact in self.contacts.by_id.values():
            for name in names:
                held = contact.custom_attributes.get(name)
                if isinstance(held, list) and gone.id in held:
                    held.remove(gone.id)
        return {"id": gone.id, "object": type_name, "deleted": True}

    # ------------------------------------------------------------------- events

    def create_event(self, body: dict[str, Any]) -> None:
        """Record an event for an existing, unarchived contact; 202 with no body."""
        name, created_at, metadata, ignored = parse_event(body)
        contact = self.contacts.for_event(body)
        self.event_log.record(
            {
                "user_id": contact.external_id,
                "email": contact.email,
                "intercom_user_id": contact.id,
            },
            name,
            created_at,
            metadata,
            ignored,
        )
