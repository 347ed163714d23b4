"""Companies: one create-or-update per record, their tags, and their members.

`POST /companies` is itself an upsert keyed by company_id, so a company costs one
call. Attaching a contact needs Intercom's own company id, which the upsert answers
with; the run remembers it, so a company named on many user records is upserted once
(and again only when a record changes it), while its users' attaches run side by side.
The sync store keeps the id, what was written, and the tags and members this target
applied, so a re-sync upserts only changed companies and sends only new tags and members.
Of a company's rows in a history table (Segment's `groups`), an older row than the one
written is superseded: its fields and tags are not sent, its members are still attached.

A record listing members not in Intercom yet writes the company at its turn, in input
order with every other record about it; only attaching those members waits for them
(members_to_come.py).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable

from target_intercom import keys
from target_intercom.client import ApiError, Client
from target_intercom.errors import ContactNotYet, RecordError
from target_intercom.mapping import CompanyPlan
from target_intercom.writers.absent import request_unless_absent
from target_intercom.writers.attributes import DataAttributes
from target_intercom.writers.known import (
    Known,
    KnownCompanies,
    KnownContacts,
    asked,
    newer,
    superseded,
)
from target_intercom.writers.lookup import ContactLookup
from target_intercom.writers.members_to_come import MembersToCome
from target_intercom.writers.modes import WriteModes
from target_intercom.writers.tags import Applying, Tags

_LOCK_STRIPES = 64
# Members named in the message of a company whose members are not in Intercom.
_NAMED = 5
logger = logging.getLogger("target-intercom")


class CompanyWriter:
    """Companies and memberships: upserts, tags and attaches, each company under its own lock."""

    # Besides companies records, the rest of one that waited for its members.
    rests = (MembersToCome,)

    def __init__(
        self,
        client: Client,
        attributes: DataAttributes,
        lookup: ContactLookup,
        known: KnownCompanies,
        contacts: KnownContacts,
        tags: Tags,
        modes: WriteModes,
    ) -> None:
        self._client = client
        self._attributes = attributes
        self._lookup = lookup
        self._known = known
        self._contacts = contacts
        self._tags = tags
        self._modes = modes
        # Users of one company run side by side: a company's lock makes the first of them
        # upsert it and the others find it in the cache. Striped, so memory does not grow
        # with the number of companies.
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]

    def write(self, plan: CompanyPlan | MembersToCome) -> str:
        """Applies one companies record: its members found first, then upsert, tags,
        attaches. Members not in Intercom yet are attached once they come (the record
        parks `MembersToCome`, through ContactNotYet)."""
        if isinstance(plan, MembersToCome):
            return self._attach_later(plan)
        members, missing = self._members(plan)
        upserted = self._upsert(plan)
        if upserted is None:
            return "not_in_intercom"
        outcome, known = upserted
        company_id = known.intercom_id
        written = [known]

        def recorded(**changes: object) -> None:
            written[0] = written[0].but(**changes)
            self._known.remember(plan.company_id, written[0])

        # A superseded row's tags go with its fields, but its members are attached: a
        # `groups` row names the one user who made the call, not the company's members.
        mirror = self._modes.mirror and outcome != "superseded"
        sent = outcome != "superseded" and self._tags.apply_to_company(
            company_id,
            plan.tags,
            known.tags,
            # full_resync sends the company again once per run; its tags are not sent again.
            Applying(mirror, False, lambda tags: recorded(tags=tags)),
        )
        written[0], attached_any = self._attach_members(plan.company_id, written[0], members)
        sent |= attached_any
        attached = set(written[0].links)
        if mirror:
            for stale in sorted(attached - set(members)):
                self._detach_by_id(stale, company_id)
                attached.discard(stale)
                recorded(links=tuple(sorted(attached)))
                sent = True
        outcome = "updated" if outcome in ("unchanged", "superseded") and sent else outcome
        if missing:
            rest = MembersToCome.of(plan, _keys(missing), outcome, self._modes.mirror)
            raise self._not_yet(rest, missing)
        return outcome

    def _attach_later(self, rest: MembersToCome) -> str:
        """Attaches the members a companies record waited for (its company was written
        at its turn) that are in Intercom now; those still missing wait again, or, at the
        end of input, are its error."""
        members, missing = self._members(rest)
        sent = bool(members) and self._attach_new(rest.company_id, members)
        unsent = rest.outcome in ("unchanged", "superseded")
        outcome = "updated" if unsent and sent else rest.outcome
        if missing:
            rest = MembersToCome.of(rest, _keys(missing), outcome, rest.mirror)
            raise self._not_yet(rest, missing)
        return outcome

    def _attach_new(self, company_id: str, members: list[str]) -> bool:
        """Attaches the contacts this target has not attached to the company yet; whether
        there was any."""
        intercom_id, _ = self.ensure(company_id, None, create=True)
        assert intercom_id is not None
        known = self._known.get(company_id) or Known(intercom_id, None)
        return self._attach_members(company_id, known, members)[1]

    def _attach_members(
        self, company_id: str, known: Known, members: list[str]
    ) -> tuple[Known, bool]:
        """Attaches the listed contacts this target has not attached to the company (by
        its company_id; `known`, what is known of it), each recorded as Intercom confirms
        it; under mirror, a member someone else attached stays theirs. What is known
        after, and whether any call was made."""
        attached, sent = set(known.links), False
        for member in dict.fromkeys(members):
            if member in attached:
                continue
            if self._modes.mirror and company_id in self.of_contact(member):
                continue
            self.attach(member, known.intercom_id, company_id)
            attached.add(member)
            known = known.but(links=tuple(sorted(attached)))
            self._known.remember(company_id, known)
            sent = True
        return known, sent

    @staticmethod
    def _not_yet(rest: MembersToCome, missing: list[tuple[str, str]]) -> ContactNotYet:
        # A company may list thousands: the message, one log line, names the first few.
        names = ", ".join(label for label, _ in missing[:_NAMED])
        if len(missing) > _NAMED:
            names += f" and {len(missing) - _NAMED} more"
        return ContactNotYet(
            f"company {rest.company_id!r} lists {names}, not in Intercom, and no such "
            "contact came in the input's users stream",
            rest.waits_for,
            rest,
        )

    def settled(self, plan: CompanyPlan) -> str | None:
        """ "unchanged" (or "superseded") when the record would make no call, found
        without one; else None (see ContactWriter.settled)."""
        known = self._known.get(plan.company_id)
        if known is None:
            return None
        if superseded(known, plan):
            outcome = "superseded"  # its members are still attached (see `write`)
        elif self._modes.full_resync or not _holds(known, plan) or newer(known, plan):
            return None
        else:
            outcome = "unchanged"
        members = [self._contacts.id_of(u, None) for u in plan.user_ids]
        members += [self._contacts.holder_of(e) for e in plan.user_emails]
        members += [self._contacts.phone_holder(p) for p in plan.user_phones]
        if not all(members):
            return None
        if outcome == "superseded":
            return outcome if set(members) <= set(known.links) else None
        if self._modes.covers(known.links, members) and self._modes.covers(known.tags, plan.tags):
            return outcome
        return None

    def holds(self, plan: CompanyPlan) -> bool:
        """Whether the company as last written is what the record asks."""
        return _holds(self._known.get(plan.company_id), plan)

    def _members(
        self, plan: CompanyPlan | MembersToCome
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """Intercom's ids of the contacts the record lists, and (how the record names it,
        its key) of each one missing. Once one is missing, the rest are only looked for in
        what this run wrote, so that a record waiting for several contacts costs one
        look-up that fails, not one per contact. What a record waited for (`MembersToCome`)
        is only looked for there too: it was searched for at the record's turn, and since
        then only a users record of the input (which this run wrote, or a second runner on
        the store) can have brought it."""
        contacts = self._contacts
        waited = isinstance(plan, MembersToCome)
        # (how the record names it, its contact key, a look-up, a look in this run's cache)
        wanted: list[tuple[str, str, Callable[[], str | None], Callable[[], str | None]]] = [
            (
                f"user_id {u!r}",
                keys.contact_by_external_id(u),
                functools.partial(self._member_by_id, u),
                functools.partial(contacts.id_of, u, None),
            )
            for u in plan.user_ids
        ]
        wanted += [
            (
                f"user email {e!r}",
                keys.contact_by_email(e),
                functools.partial(self._member_by_email, e),
                functools.partial(contacts.holder_of, e),
            )
            for e in plan.user_emails
        ]
        wanted += [
            (
                f"user phone {p!r}",
                keys.contact_by_phone(p),
                functools.partial(self._member_by_phone, p),
                functools.partial(contacts.phone_holder, p),
            )
            for p in plan.user_phones
        ]
        found: list[str] = []
        missing: list[tuple[str, str]] = []
        for label, key, look_up, cached in wanted:
            # Under update_only no later record will create a missing contact: each is
            # looked up.
            from_cache = (waited or missing) and not self._modes.update_only
            member = (cached() if from_cache else look_up()) or None
            if member is None:
                missing.append((label, key))
            else:
                found.append(member)
        if missing and self._modes.update_only:
            logger.warning(
                "company %r lists %s, not in Intercom: not attached (write_mode update_only)",
                plan.company_id,
                ", ".join(label for label, _ in missing),
            )
            return found, []
        return found, missing

    def attach(self, contact_id: str, intercom_company_id: str, company_id: str) -> None:
        """Attaches a contact to a company (Intercom's ids); idempotent in Intercom. A
        company deleted in Intercom since its id was kept is made again, then attached."""
        try:
            self._attach(contact_id, intercom_company_id)
        except ApiError as exc:
            if exc.status not in (404, 410) or "company" not in exc.code:
                raise
            self._known.forget(company_id)
            again, _ = self.ensure(company_id, None, create=True)
            assert again is not None
            self._attach(contact_id, again)

    def _attach(self, contact_id: str, intercom_company_id: str) -> None:
        self._client.request(
            "POST",
            "/contacts/{contact_id}/companies",
            path={"contact_id": contact_id},
            json_body={"id": intercom_company_id},
        )

    def detach(self, contact_id: str, company_id: str) -> bool:
        """Detaches a contact from a company (our company_id) when the company exists;
        whether a call was made."""
        intercom_id, looked_up = self.ensure(company_id, None, create=False)
        if intercom_id is None:
            return looked_up
        self._detach_by_id(contact_id, intercom_id)
        return True

    def of_contact(self, contact_id: str) -> set[str]:
        """The company_ids of the companies a contact is in, as Intercom holds them now:
        under mirror, what was there before this target attached it is not its own."""
        answer = self._client.request(
            "GET", "/contacts/{contact_id}/companies", path={"contact_id": contact_id}
        ).body
        listed = (answer or {}).get("companies") or []
        return {str(c.get("company_id")) for c in listed if isinstance(c, dict)}

    def _detach_by_id(self, contact_id: str, intercom_company_id: str) -> None:
        request_unless_absent(
            self._client,
            "DELETE",
            "/contacts/{contact_id}/companies/{company_id}",
            path={"contact_id": contact_id, "company_id": intercom_company_id},
        )

    def ensure(
        self, company_id: str, plan: CompanyPlan | None, *, create: bool
    ) -> tuple[str | None, bool]:
        """Intercom's id of a company named on a user record, upserted when it has fields
        that changed; and whether a call was made.

        A bare company (an id and nothing else) is looked up, and created only when the
        contact is to be attached to it: detaching from a company that does not exist is
        already done.
        """
        if plan is not None:
            upserted = self._upsert(plan)
            if upserted is None:
                return None, True
            outcome, written = upserted
            return written.intercom_id, outcome not in ("unchanged", "superseded")
        with self._lock_of(company_id):
            known = self._known.get(company_id)
            if known is not None:
                return known.intercom_id, False
            found = request_unless_absent(
                self._client,
                "GET",
                "/companies",
                params={"company_id": company_id},
                needs=("id",),
            )
            if found is None and not create:
                return None, True
            if found is None:
                found = self._client.request(
                    "POST", "/companies", json_body={"company_id": company_id}, needs=("id",)
                )
            intercom_id = str(found.body["id"])
            self._known.remember(company_id, Known(intercom_id, None))
            return intercom_id, True

    def _upsert(self, plan: CompanyPlan) -> tuple[str, Known] | None:
        """The company as it stands after this record: (outcome, what is known of it), or
        None when update_only finds no such company."""
        print_ = asked(plan)
        with self._lock_of(plan.company_id):
            known = self._known.get(plan.company_id)
            if superseded(known, plan):
                assert known is not None
                return "superseded", known
            # full_resync sends each company again once, not once per record naming it.
            fresh = not self._modes.full_resync or self._known.written_this_run(plan.company_id)
            if known is not None and known.fingerprint == print_ and fresh:
                if newer(known, plan):
                    known = known.but(as_of=plan.as_of)
                    self._known.remember(plan.company_id, known)
                return "unchanged", known
            if known is not None and known.fingerprint is not None:
                self._known.doubt(plan.company_id)
            custom = self._attributes.prepare(
                "company", plan.custom_attributes, plan.attribute_types
            )
            body = dict(plan.fields)
            if custom:
                body["custom_attributes"] = custom
            if known is None and self._modes.update_only:
                found = request_unless_absent(
                    self._client, "GET", "/companies", params={"company_id": plan.company_id}
                )
                if found is None:
                    return None
            company = self._client.request("POST", "/companies", json_body=body, needs=("id",)).body
            intercom_id = str(company["id"])
            same = known is not None and known.intercom_id == intercom_id
            written = Known(
                intercom_id,
                print_,
                known.tags if same and known else (),
                known.links if same and known else (),
                as_of=plan.as_of,
            )
            self._known.remember(plan.company_id, written)
            return ("updated" if known is not None else "upserted"), written

    def _member_by_id(self, external_id: str) -> str | None:
        """Intercom's id of the user with this external_id: known, else searched for."""
        known = self._contacts.id_of(external_id, None)
        if known is not None or "external_id" not in self._lookup.lookup_fields:
            return known
        found = self._lookup.find(external_id, None)
        if found is not None:
            self._contacts.found(external_id, None, found)
        return found

    def _member_by_email(self, email: str) -> str | None:
        """Intercom's id of the one contact with this email: known from what was written,
        else searched for (search lags behind creates); None when there is none."""
        held = self._contacts.holders_of(email)
        if len(held) > 1:
            raise RecordError(
                f"several contacts this run wrote hold the email {email!r}; it names none "
                "of them (list the users by user_ids)",
                "ambiguous_email",
            )
        if held:
            return held[0]
        return self._lookup.find(None, email) if "email" in self._lookup.lookup_fields else None

    def _member_by_phone(self, phone: str) -> str | None:
        """Intercom's id of the one contact with this phone (lookup_fields lists phone):
        the one this target wrote or found with it, else found by one search; None when
        none is."""
        held = self._contacts.phone_holder(phone)
        if held is not None:
            return held
        found = self._lookup.one_by_phone(phone, None, claiming=False)
        if found is not None:
            self._contacts.holds_phone(phone, found)
        return found

    def _lock_of(self, company_id: str) -> threading.Lock:
        return self._locks[hash(company_id) % _LOCK_STRIPES]


def _keys(missing: list[tuple[str, str]]) -> set[str]:
    return {key for _, key in missing}


def _holds(known: Known | None, plan: CompanyPlan) -> bool:
    return known is not None and known.fingerprint == asked(plan)
