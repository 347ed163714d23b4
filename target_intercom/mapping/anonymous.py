"""Calls made by an anonymous visitor: what Segment and RudderStack drop.

Segment's Intercom destination sends identify and track calls only with a userId or an
email, and RudderStack's likewise; a call that names its sender only by an anonymous id
(`anonymous_id`/`anonymousId`: a page view, a track before sign-up) is dropped without a
word. A warehouse `tracks` table is full of such rows, so they are no record errors here
either (errors.AnonymousCall). `anonymous_id_as_user_id` sends them instead.
"""

from __future__ import annotations

from collections.abc import Mapping

from target_intercom.errors import AnonymousCall
from target_intercom.mapping.fields import first_item
from target_intercom.mapping.options import ContactOptions
from target_intercom.mapping.warehouse import ANONYMOUS_ID_SOURCES, CONTEXT, Row


def raise_if_anonymous(row: Row, options: ContactOptions, what: str) -> None:
    """Raises AnonymousCall when the row, naming no contact, is a call (a message row or a
    record with a nested `context`) with an anonymous id and the setting is off. Any
    other record naming no contact stays the caller's record error."""
    if options.anonymous_id_as_user_id or not row.enabled:
        return
    call = row.message or isinstance(row.record.get(CONTEXT), Mapping)
    item = first_item(row.record, *ANONYMOUS_ID_SOURCES) if call else None
    if item is not None:
        raise AnonymousCall(
            f"{what} is an anonymous call (it names no contact, only {item[0]}): not sent, "
            "as Segment and RudderStack drop such calls; set anonymous_id_as_user_id to "
            "send it as the anonymous id's contact"
        )
