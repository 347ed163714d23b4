"""What a later record settles of the members a companies record waits for."""

from __future__ import annotations

import pytest

from target_intercom import keys
from target_intercom.writers.members_to_come import MembersToCome


def waiting(*, mirror: bool = False) -> MembersToCome:
    return MembersToCome("c1", ("u1", "u2"), ("a@x.io",), "upserted", mirror)


@pytest.mark.parametrize("mirror", [False, True])
def test_the_users_own_record_naming_the_company_settles_its_membership(mirror) -> None:
    user_row = (*keys.contact("u1", "u1@x.io"), keys.shared(keys.company("c1")))
    assert waiting(mirror=mirror).after(user_row).user_ids == ("u2",)
    by_email = (*keys.contact(None, "A@x.io"), keys.shared(keys.company("c1")))
    assert waiting(mirror=mirror).after(by_email).user_emails == ()


def test_records_not_naming_the_company_settle_nothing() -> None:
    event = keys.contact("u1", None)
    other_company = (*keys.contact("u1", None), keys.shared(keys.company("c2")))
    assert waiting().after(event) == waiting()
    assert waiting().after(other_company) == waiting()


def test_a_companies_row_settles_the_members_it_lists_and_under_mirror_all() -> None:
    row = (keys.company("c1"), keys.contact_by_external_id("u2"))
    assert waiting().after(row).user_ids == ("u1",)
    settled = waiting(mirror=True).after(row)
    assert (settled.user_ids, settled.user_emails, settled.waits_for) == ((), (), ())
    # A user's nested company holds it shared: it says nothing of the other members.
    nested = (*keys.contact("u9", None), keys.shared(keys.company("c1")))
    assert waiting(mirror=True).after(nested) == waiting(mirror=True)


def test_members_by_phone_wait_for_their_phone_key_and_are_settled_by_it() -> None:
    rest = MembersToCome("c1", (), (), "upserted", False, ("+15550100",))
    assert rest.waits_for == (keys.contact_by_phone("+15550100"),)
    user_row = (keys.contact_by_external_id("u1"), keys.contact_by_phone("+15550100"))
    assert rest.after((*user_row, keys.shared(keys.company("c1")))).user_phones == ()
    assert rest.after(user_row) == rest
    assert (
        MembersToCome("c1", (), (), "upserted", True, ("+1",))
        .after((keys.company("c1"),))
        .user_phones
        == ()
    )
