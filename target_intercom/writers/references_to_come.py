"""What is left of a custom object row once its instance is upserted: its contact's reference.

A contact's reference attribute is written whole (see custom_objects.py), so the rows
of one contact are cheapest linked together: one write of the list for all of them, not
one each. A table lists a contact's rows far apart (orders by order id), so the link
waits (delivery parks it, errors.Deferred, and takes the waiting links back together),
and whichever of a contact's rests runs first writes the list with every instance
waiting for it; the others then find theirs in it and cost no call.
"""

from __future__ import annotations

from dataclasses import dataclass

from target_intercom import keys


@dataclass(frozen=True)
class ReferenceToCome:
    """Putting an upserted instance in its contact's reference list.

    `instance_key` and `asked` name the instance's store row and what was sent to it;
    `link` is the contact as the row names it (what the store keeps with the instance);
    `outcome` is what the upsert did, for the run summary."""

    type_name: str
    reference_attribute: str
    contact_id: str
    instance_id: str
    instance_key: str
    asked: int
    link: tuple[str, ...]
    outcome: str

    @property
    def list_key(self) -> str:
        """The contact's list, as the sync store and the writer's waiting lists name it."""
        return keys.custom_object_references(self.reference_attribute, self.contact_id)

    @property
    def waits_for(self) -> tuple[str, ...]:
        """No record: delivery takes deferred rests back together."""
        return (keys.DEFERRED,)

    @property
    def ordering_keys(self) -> tuple[str, ...]:
        """The instance (a later row of it, linked before this one, stays the one the
        store keeps) and the contact's list (its rests run one after another: the first
        writes, the others find their instance written)."""
        return (self.instance_key, self.list_key)

    @property
    def watches(self) -> tuple[str, ...]:
        """Nothing a later record says makes the link moot."""
        return ()

    def after(self, later: tuple[str, ...]) -> ReferenceToCome:
        """Itself: see `watches`."""
        return self
