"""What is left of a custom object row once its instance is upserted: its contact's reference.

The link first waits for its contact when Intercom does not have it yet (`LinkToCome`,
as an event waits for its user); a later row of the same instance settles it (that row
decides the instance's contact), so an older row never links late over a newer one.

A contact's reference attribute is written whole (see custom_objects.py), so the rows
of one contact are cheapest linked together: one write of the list for all of them, not
one each. A table lists a contact's rows far apart (orders by order id), so the link
then waits (`ReferenceToCome`: delivery parks it, errors.Deferred, and takes the waiting
links back together), and whichever of a contact's rests runs first writes the list
with every instance waiting for it; the others then find theirs in it and cost no call.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from target_intercom import keys


@dataclass(frozen=True)
class LinkToCome:
    """An upserted instance's link to the contact its row names, before that contact's
    Intercom id is known. `moot`: a later row of the instance was admitted since."""

    type_name: str
    reference_attribute: str
    external_id: str
    user_id: str | None
    email: str | None
    instance_id: str
    instance_key: str
    asked: int
    outcome: str
    moot: bool = False

    @property
    def link(self) -> tuple[str, ...]:
        """The contact as the row names it (its first key), as the store keeps it."""
        return keys.contact(self.user_id, self.email)[:1]

    @property
    def waits_for(self) -> tuple[str, ...]:
        """The contact's keys, until a later row of the instance makes it moot."""
        return () if self.moot else keys.contact(self.user_id, self.email)

    @property
    def ordering_keys(self) -> tuple[str, ...]:
        """As the row held them: the instance, and its contact held shared."""
        contact = (keys.shared(k) for k in keys.contact(self.user_id, self.email))
        return (self.instance_key, *contact)

    @property
    def watches(self) -> tuple[str, ...]:
        """A later row of the instance decides its contact."""
        return (self.instance_key,)

    def after(self, later: tuple[str, ...]) -> LinkToCome:
        """Moot once a later record holds the instance (a later row of it)."""
        if self.instance_key in (key.removeprefix(keys.SHARED) for key in later):
            return replace(self, moot=True)
        return self


@dataclass(frozen=True)
class ReferenceToCome:
    """Putting an upserted instance in its contact's reference list, and taking it out
    of the list of the contact it `moved_from`.

    `contact_id` None: the row (a deleted one) puts it in no list, and `delete` then
    deletes it once out of its list. `instance_key` and `asked` name the instance's store
    row and what was sent to it; `link` is the contact as the row names it (what the
    store keeps with the instance); `outcome` is what the row did, for the run summary."""

    type_name: str
    reference_attribute: str
    external_id: str
    contact_id: str | None
    instance_id: str
    instance_key: str
    asked: int | None
    link: tuple[str, ...]
    outcome: str
    moved_from: str | None = None
    delete: bool = False

    @property
    def list_key(self) -> str:
        """The contact's list, as the sync store and the writer's waiting lists name it."""
        assert self.contact_id is not None
        return keys.custom_object_references(self.reference_attribute, self.contact_id)

    @property
    def moved_from_key(self) -> str:
        """The list the instance leaves, when it moved (see `moved_from`)."""
        assert self.moved_from is not None
        return keys.custom_object_references(self.reference_attribute, self.moved_from)

    @property
    def waits_for(self) -> tuple[str, ...]:
        """No record: delivery takes deferred rests back together."""
        return (keys.DEFERRED,)

    @property
    def ordering_keys(self) -> tuple[str, ...]:
        """The instance (a later row of it, linked before this one, stays the one the
        store keeps) and the contact's list (its rests run one after another: the first
        writes, the others find their instance written)."""
        return (self.instance_key, *((self.list_key,) if self.contact_id else ()))

    @property
    def watches(self) -> tuple[str, ...]:
        """Nothing a later record says makes the link moot."""
        return ()

    def after(self, later: tuple[str, ...]) -> ReferenceToCome:
        """Itself: see `watches`."""
        return self
