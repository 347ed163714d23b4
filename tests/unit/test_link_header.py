"""Reading the contact a 410's `Link` header names as canonical: Intercom 2.16 sends
`Link: </contacts/{id}>; rel="canonical"` for a merged contact. A Link that names none
(missing, another relation, not a contact, malformed) gives None: the caller then does
what it did before Intercom sent links."""

from __future__ import annotations

import pytest

from target_intercom.client import canonical_contact


@pytest.mark.parametrize(
    ("link", "named"),
    [
        ('</contacts/64b1c2d3e4f5a6b7c8d9e0f1>; rel="canonical"', "64b1c2d3e4f5a6b7c8d9e0f1"),
        ("<https://api.intercom.io/contacts/abc>; rel=canonical", "abc"),
        ('</contacts/abc>;rel="Canonical"', "abc"),
        ('</contacts/a>; rel="next", </contacts/b>; rel="alternate canonical"', "b"),
    ],
)
def test_the_canonical_contact_is_read_from_the_link(link: str, named: str) -> None:
    assert canonical_contact(link) == named


@pytest.mark.parametrize(
    "link",
    [
        None,
        "",
        "</contacts/abc>",  # no relation
        '</contacts/abc>; rel="next"',
        '</contacts/abc/tags>; rel="canonical"',  # not a contact
        '</companies/abc>; rel="canonical"',
        '<>; rel="canonical"',
        '</contacts/a b>; rel="canonical"',
        '</contacts/abc; rel="canonical"',  # unclosed
        "/contacts/abc; rel=canonical",  # no angle brackets
        '</contacts/abc>; rel="canonical"' + " " * 2_000,  # too long to be Intercom's
    ],
)
def test_a_link_that_names_no_contact_gives_none(link: str | None) -> None:
    assert canonical_contact(link) is None
