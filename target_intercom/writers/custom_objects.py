"""Custom object instances: an upsert by external id, then the contact's reference attribute.

`POST /custom_object_instances/{type}` creates or updates by `external_id`, so a replay or
a retry of it makes no second instance. A contact holds its instances through a reference
attribute, written whole (`reference_lists.py`).

The sync store keeps, beside companies (namespaced keys, see keys.py), each instance's
Intercom id, the fingerprint of what was last sent to it and the contact whose list holds
it (its key as the row names it, and its Intercom id): an unchanged row costs no call, not
even the look-up of a contact this target never wrote. A fingerprint is forgotten before
a changing call and kept once Intercom confirmed it, so a kill costs at most a call,
never a skip.

A table lists a contact's rows far apart (orders by order id), so a row's link waits
(`references_to_come.py`): the first of the contact's links to run writes the list with
all of them, and a contact's rows cost one write of its list per wait, not one each. A
row naming another contact than the instance's moves it: in the new contact's list, out
of the old one's; of several rows of one instance in a run, the last one's contact is
where it ends. A deleted row (`_sdc_deleted_at`) takes it out of its list, and deletes it
under `deleted_rows: delete`.

The contact's Intercom id is what this run or an earlier one met, else looked up by
`lookup_fields`; a contact Intercom does not have waits for the input's users stream
(`ContactNotYet`), as events do. The instance itself is written first: only the link
waits, and a later row of the instance makes it moot (that row decides its contact).
A contact merged into another since this target met it (410) has the instance put in the
list of the contact Intercom kept, as its events are sent there.
An unknown type (404 on the upsert) is the workspace's setup, not the row's: it fails the
run with one line.
"""

from __future__ import annotations

import threading
from typing import NoReturn

from target_intercom import keys
from target_intercom.client import ApiError, Client
from target_intercom.errors import ContactNotYet, Deferred, FatalError
from target_intercom.mapping.custom_objects import CustomObjectPlan
from target_intercom.writers.absent import request_unless_absent
from target_intercom.writers.known import Known, KnownCompanies, KnownContacts, fingerprint
from target_intercom.writers.lookup import ContactLookup
from target_intercom.writers.reference_lists import INSTANCES, ReferenceLists
from target_intercom.writers.references_to_come import LinkToCome, ReferenceToCome

# A row the tap marks deleted, under `deleted_rows: ignore`.
DELETE_IGNORED = "delete_ignored"
# An instance's store row keeps, after its contact's key, the contact's Intercom id so
# marked: the list to take it out of when a row moves it to another contact.
_CONTACT_ID = "id:"
# The fingerprint an instance's store row holds once a deleted row deleted it.
_DELETED = fingerprint("custom_object_deleted")
# How many contacts a run remembers Intercom did not have (past it, each row looks up).
MAX_NOT_FOUND = 100_000


class CustomObjectWriter:
    """Upserts instances and keeps contacts' reference attributes holding them."""

    # Besides custom object rows, the link of one whose instance is upserted.
    rests = (LinkToCome, ReferenceToCome)

    def __init__(
        self,
        client: Client,
        known: KnownContacts,
        lookup: ContactLookup,
        store: KnownCompanies,
        *,
        full_resync: bool = False,
    ) -> None:
        self._client = client
        self._contacts = known
        self._lookup = lookup
        # Instances and reference lists, each under its own key namespace.
        self._store = store
        self._full_resync = full_resync
        self._lists = ReferenceLists(client, known, store)
        # The contact each instance waits to be linked to, by instance id (see _to_contact):
        # "" for none (a deleted row's).
        self._guard = threading.Lock()
        self._linking: dict[str, str] = {}
        # The contacts (their first key) this run looked up and Intercom did not have.
        self._not_found: set[str] = set()

    def write(self, plan: CustomObjectPlan | LinkToCome | ReferenceToCome) -> str:
        """Upserts the instance unless unchanged; putting it in its contact's list (and
        out of the list of the contact it moved from) waits (errors.Deferred), to be
        written once with the contact's other rows."""
        if isinstance(plan, ReferenceToCome):
            return self._link(plan)
        if isinstance(plan, LinkToCome):
            # Moot: a later row of the instance decides its contact.
            return plan.outcome if plan.moot else self._to_contact(plan)
        if plan.deleted:
            return self._deleted(plan)
        key, asked = keys.custom_object(plan.type_name, plan.external_id), _asked(plan)
        instance_id, outcome = self._upsert(plan, key, asked)
        if plan.reference_attribute is None or not plan.names_contact:
            return outcome
        return self._to_contact(
            LinkToCome(
                plan.type_name,
                plan.reference_attribute,
                plan.external_id,
                plan.user_id,
                plan.email,
                instance_id,
                key,
                asked,
                outcome,
            )
        )

    def _to_contact(self, link: LinkToCome) -> NoReturn:
        """The instance waits to go in its contact's list, and out of the one it moved
        from (Deferred), once the contact is known; else the link waits for the contact
        (ContactNotYet), the instance being written."""
        contact_id = self._contact_id(link)
        linked = self._linked(link.instance_id, self._store.get(link.instance_key), contact_id)
        moved_from = linked if linked and linked != contact_id else None
        rest = ReferenceToCome(
            link.type_name,
            link.reference_attribute,
            link.external_id,
            contact_id,
            link.instance_id,
            link.instance_key,
            link.asked,
            link.link,
            link.outcome,
            moved_from,
        )
        self._lists.wait(rest.list_key, link.instance_id, adding=True)
        if moved_from is not None:
            self._lists.wait(rest.moved_from_key, link.instance_id, adding=False)
        raise Deferred(rest)

    def _linked(self, instance_id: str, held: Known | None, linking: str) -> str | None:
        """The contact whose list holds the instance, or will once an earlier row of this
        run is linked (newer than the store), "" for none; from now on, `linking`."""
        stored = self._stored_contact(held)
        with self._guard:
            linked = self._linking.get(instance_id, stored)
            self._linking[instance_id] = linking
        return linked

    def _deleted(self, plan: CustomObjectPlan) -> str:
        """A row the tap marks deleted: its instance leaves the list of its contact (as
        the store keeps it, or an earlier row of this run links it), and, under
        `deleted_rows: delete`, is then deleted; nothing under `ignore`. An instance in
        no list this target knows of is only deleted (the store keeps that it was)."""
        if plan.deleted_rows == "ignore":
            return DELETE_IGNORED
        key = keys.custom_object(plan.type_name, plan.external_id)
        held = self._store.get(key)
        if held is not None and held.fingerprint == _DELETED:
            return "unchanged"
        linked = None
        if held is not None and plan.reference_attribute is not None:
            linked = self._linked(held.intercom_id, held, "")  # in no list from now on
        delete = plan.deleted_rows == "delete"
        if held is None or plan.reference_attribute is None or not linked:
            if held is not None and linked is None:  # "": an earlier deleted row's, pending
                self._forget_linking(held.intercom_id, "")
            return self._delete(plan.type_name, plan.external_id, key) if delete else "unchanged"
        rest = ReferenceToCome(
            plan.type_name,
            plan.reference_attribute,
            plan.external_id,
            None,
            held.intercom_id,
            key,
            held.fingerprint,
            (),
            "deleted" if delete else "unlinked",
            linked,
            delete,
        )
        self._lists.wait(rest.moved_from_key, held.intercom_id, adding=False)
        raise Deferred(rest)

    def _forget_linking(self, instance_id: str, linked: str) -> None:
        """The row that links the instance to `linked` is done: unless a later row links
        it elsewhere, the store says where it is from now on."""
        with self._guard:
            if self._linking.get(instance_id) == linked:
                del self._linking[instance_id]

    def _delete(self, type_name: str, external_id: str, key: str) -> str:
        """Deletes the instance (out of every list this target knows of); the store keeps
        that it is deleted, so the row read again costs no call."""
        answer = request_unless_absent(
            self._client,
            "DELETE",
            INSTANCES,
            path={"type": type_name},
            params={"external_id": external_id},
        )
        self._store.remember(key, Known("", _DELETED))
        return "deleted" if answer is not None else "already_absent"

    def _stored_contact(self, held: Known | None) -> str | None:
        """The contact whose list holds the instance, as its store row `held` keeps it: its
        Intercom id, or, in a row kept before ids were, the id its key names."""
        if held is None or not held.links:
            return None
        for link in held.links[1:]:
            if link.startswith(_CONTACT_ID):
                return link[len(_CONTACT_ID) :]
        return self._contacts.id_filed_as(held.links[0])

    def settled(self, plan: CustomObjectPlan | LinkToCome | ReferenceToCome) -> str | None:
        """ "unchanged" when the store holds this instance as the row has it and, when the
        row names a contact, linked to the contact the row names (so an unchanged row of a
        contact this target never wrote costs no look-up either), and no earlier row of
        this run is linking it; for a deleted row, see `_deleted_settled`."""
        if not isinstance(plan, CustomObjectPlan):
            return None
        if plan.deleted:
            return self._deleted_settled(plan)
        key = keys.custom_object(plan.type_name, plan.external_id)
        held = self._unchanged(key, _asked(plan))
        if held is None or held.links[:1] != _link(plan):
            return None
        with self._guard:
            # An earlier row of this run is linking it elsewhere: this row must undo that.
            if held.intercom_id in self._linking:
                return None
        return "unchanged"

    def _deleted_settled(self, plan: CustomObjectPlan) -> str | None:
        """A deleted row's outcome when it needs no call: ignored, already deleted, or
        (to unlink) in no list this target knows of."""
        if plan.deleted_rows == "ignore":
            return DELETE_IGNORED
        held = self._store.get(keys.custom_object(plan.type_name, plan.external_id))
        if held is not None and held.fingerprint == _DELETED:
            return "unchanged"
        if plan.deleted_rows == "delete" or (held is not None and held.links):
            return None
        with self._guard:
            pending = held is not None and held.intercom_id in self._linking
        return None if pending else "unchanged"

    def _unchanged(self, key: str, asked: int) -> Known | None:
        """What the store holds of the instance, when it was last written as asked."""
        known = self._store.get(key)
        if known is None or known.fingerprint != asked:
            return None
        if self._full_resync and not self._store.written_this_run(key):
            return None
        return known

    def _upsert(self, plan: CustomObjectPlan, key: str, asked: int) -> tuple[str, str]:
        """The instance's id, and what the upsert did. What the store keeps of the
        instance's contact stays: an upsert does not change which list holds it."""
        held = self._unchanged(key, asked)
        if held is not None:
            return held.intercom_id, "unchanged"
        before = self._store.get(key)
        if before is not None:
            self._store.doubt(key)
        try:
            answer = self._client.request(
                "POST", INSTANCES, path={"type": plan.type_name}, json_body=plan.body, needs=("id",)
            ).body
        except ApiError as exc:
            if exc.status == 404:
                raise FatalError(
                    f"Intercom has no custom object type {plan.type_name!r} (404 to POST "
                    f"/custom_object_instances/{plan.type_name}): create it, with its "
                    "attributes, in Intercom's settings, or correct the "
                    "custom_objects setting"
                ) from None
            raise
        instance_id = str(answer["id"])
        links = before.links if before is not None else ()
        self._store.remember(key, Known(instance_id, asked, links=links))
        made = before is None or before.fingerprint == _DELETED
        return instance_id, "created" if made else "updated"

    def _link(self, rest: ReferenceToCome) -> str:
        """Puts the instance in its contact's list and out of the one it moved from; then
        the store keeps the instance as linked to its contact (its row is settled without
        a call from then on), unless a later row of it was written since (that row's link
        keeps it)."""
        linked = rest.contact_id or ""  # as _linking names it: "" is in no list
        with self._guard:
            # A later row of the instance moved it on: its link is that row's to write.
            latest = self._linking.get(rest.instance_id)
        overtaken = latest is not None and latest != linked
        changed = False
        if rest.contact_id is not None and not overtaken:
            changed = self._lists.apply(rest, rest.list_key, rest.contact_id, adding=True)
        if rest.moved_from is not None:
            # Overtaken, it still takes the instance out of the list it had when its row
            # ran; what the record did is then its upsert, the link being the later row's.
            moved = self._lists.apply(rest, rest.moved_from_key, rest.moved_from, adding=False)
            changed = changed or (moved and not overtaken)
        held = self._store.get(rest.instance_key)
        if not overtaken and held is not None and held.fingerprint == rest.asked:
            links = (*rest.link, _CONTACT_ID + rest.contact_id) if rest.contact_id else ()
            self._store.remember(rest.instance_key, held.but(links=links))
        self._forget_linking(rest.instance_id, linked)
        if overtaken and rest.contact_id is None:
            return "unchanged"  # a deleted row the instance's next row undid
        if rest.delete:
            return self._delete(rest.type_name, rest.external_id, rest.instance_key)
        return "updated" if changed and rest.outcome == "unchanged" else rest.outcome

    def _contact_id(self, link: LinkToCome) -> str:
        """The contact's Intercom id, as known or looked up; ContactNotYet when Intercom
        does not have it yet (it may come later in the input): the link waits for it.

        A contact Intercom did not have is looked up once a run: it comes later only by
        this run's own writes (which make it known), so the contact's other rows, and the
        last try at the end of input, cost no look-up."""
        contact_id = self._known_contact(link)
        if contact_id is None:
            names = keys.contact(link.user_id, link.email)
            with self._guard:
                looked = names[0] in self._not_found
            if not looked:
                contact_id = self._lookup.find(link.user_id, link.email)
            if contact_id is None and not looked:
                with self._guard:
                    if len(self._not_found) < MAX_NOT_FOUND:
                        self._not_found.add(names[0])
        if contact_id is None:
            who = link.user_id or link.email
            raise ContactNotYet(
                f"{link.type_name} {link.external_id!r} names contact {who!r}, which is not "
                "in Intercom and did not come in the input's users stream; the instance is "
                "loaded, not linked to it",
                keys.contact(link.user_id, link.email),
                link,
                undone_fails=True,
            )
        return contact_id

    def _known_contact(self, plan: LinkToCome) -> str | None:
        """The contact's id as this target met it: by the key the row names it with, or,
        for a row naming it by email only, the one contact known to hold that email (as
        events find it: a user written by its external_id is filed under that)."""
        contact_id = self._contacts.id_of(plan.user_id, plan.email)
        if contact_id is None and plan.user_id is None and plan.email is not None:
            contact_id = self._contacts.holder_of(plan.email)
        return contact_id


def _link(plan: CustomObjectPlan) -> tuple[str, ...]:
    """The contact the instance is linked to, as the row names it (its first key), for the
    instance's store row; none when the row links it to no contact."""
    if not plan.names_contact:
        return ()
    return keys.contact(plan.user_id, plan.email)[:1]


def _asked(plan: CustomObjectPlan) -> int:
    """The fingerprint of what the row asks of its instance."""
    return fingerprint("custom_object", plan.type_name, plan.body)
