"""What is left of a companies record whose members were not in Intercom at its turn.

The record writes the company, its tags and the members Intercom has at its turn, in
input order with every other record about the company; attaching the others waits for
them (delivery parks this plan until they come). Meanwhile later records run, and may
say something newer about one of those memberships: `after` drops it then, so that
attaching it late never undoes a newer record.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from target_intercom import keys
from target_intercom.mapping import CompanyPlan


@dataclass(frozen=True)
class MembersToCome:
    """Attaching these members to the company, once they are in Intercom.

    `outcome` is what the record's turn did to the company, for the run summary.
    """

    company_id: str
    user_ids: tuple[str, ...]
    user_emails: tuple[str, ...]
    outcome: str
    mirror: bool
    user_phones: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, plan: CompanyPlan | MembersToCome, missing: set[str], outcome: str, mirror: bool
    ) -> MembersToCome:
        """The members of `plan` whose contact keys are `missing`."""
        return cls(
            plan.company_id,
            tuple(u for u in plan.user_ids if keys.contact_by_external_id(u) in missing),
            tuple(e for e in plan.user_emails if keys.contact_by_email(e) in missing),
            outcome,
            mirror,
            tuple(p for p in plan.user_phones if keys.contact_by_phone(p) in missing),
        )

    @property
    def waits_for(self) -> tuple[str, ...]:
        """The contacts it attaches: it waits for every one of them."""
        return (
            *(keys.contact_by_external_id(u) for u in self.user_ids),
            *(keys.contact_by_email(e) for e in self.user_emails),
            *(keys.contact_by_phone(p) for p in self.user_phones),
        )

    @property
    def ordering_keys(self) -> tuple[str, ...]:
        """Once it runs, the company and its contacts, as the record held them."""
        return (keys.company(self.company_id), *self.waits_for)

    @property
    def watches(self) -> tuple[str, ...]:
        """Only records about the company can say anything about its memberships."""
        return (keys.company(self.company_id),)

    def after(self, later: tuple[str, ...]) -> MembersToCome:
        """What is left to attach once a later record holding these ordering keys was
        admitted. It settles a membership when it names both the company and the contact
        (the user's own record, attaching or removing the company; a companies record
        listing the user), and, under mirror, a companies record settles them all (from
        then on its members are the company's)."""
        company = keys.company(self.company_id)
        held = {key.removeprefix(keys.SHARED) for key in later}
        if company not in held:
            return self
        if self.mirror and company in later:  # held outright: a companies record
            return replace(self, user_ids=(), user_emails=(), user_phones=())
        return replace(
            self,
            user_ids=tuple(u for u in self.user_ids if keys.contact_by_external_id(u) not in held),
            user_emails=tuple(e for e in self.user_emails if keys.contact_by_email(e) not in held),
            user_phones=tuple(p for p in self.user_phones if keys.contact_by_phone(p) not in held),
        )
