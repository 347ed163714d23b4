"""The ways a load can go wrong, sorted by what the target must do about each.

`RecordError` costs one record (it is failed or dead-lettered, per `on_record_error`);
`FatalError` stops the run. What may succeed on a second try (timeouts, 5xx) never
leaves the client: it retries, and when retries run out raises a `FatalError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from target_intercom.delivery.job import Rest


class TargetIntercomError(Exception):
    """Base of every error this target raises on purpose."""


class FatalError(TargetIntercomError):
    """The run cannot go on: a bad token, a bad setting, unreadable input."""


class Interrupted(FatalError):
    """SIGTERM or SIGINT: stop reading, keep what is delivered, exit non-zero."""


class AuthError(FatalError):
    """Intercom refused the access token (401) or its permissions (403)."""


class RecordError(TargetIntercomError):
    """One record cannot be delivered, for a reason that retrying will not change.

    `code` is Intercom's `errors[].code` when Intercom gave one, else our own
    short code (`mapping_error`, `no_identity`, ...).
    """

    def __init__(self, message: str, code: str = "record_error") -> None:
        super().__init__(message)
        self.code = code

    @property
    def message(self) -> str:
        """The message without the error code, for the dead-letter file and the run's one line."""
        return str(self.args[0])


class MappingError(RecordError):
    """A record cannot be turned into an Intercom payload."""

    def __init__(self, message: str, code: str = "mapping_error") -> None:
        super().__init__(message, code)


class AnonymousCall(MappingError):
    """A call (a message row, or a record with a nested `context`) that names its sender
    only by an anonymous id. Segment's and RudderStack's Intercom destinations drop such
    calls silently, and a tracks table is full of them: it is not sent and is no record
    error; delivery counts it (`anonymous`), and the run's closing lines report it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "anonymous_call")


class Stopped(FatalError):
    """The run is stopping (a signal): no call starts and no retry waits any more."""


class Deferred(TargetIntercomError):
    """Not an error: the record wrote its own part, and what is left (`rest`) is better
    written together with the like of it from other records (one call for many). Delivery
    parks the rest (it waits for keys.DEFERRED) and takes such rests back together, or
    writes it at once where it may not wait; STATE waits for it either way."""

    def __init__(self, rest: Rest) -> None:
        super().__init__("deferred")
        self.rest = rest


class ContactNotYet(RecordError):
    """The record needs a contact Intercom does not have (yet): it may come later in the
    input, so the record waits for it, and is a record error only if it never comes.

    `rest`, when given, is what is left to write of a record that wrote the rest of its
    plan already: that is what waits, not the whole record. Left undone at the end of
    input, it is counted and the record passes (a company's members), unless
    `undone_fails`: then it is the record's error, as a whole record's wait would be (a
    custom object's link to its contact)."""

    def __init__(
        self,
        message: str,
        contact_keys: tuple[str, ...],
        rest: Rest | None = None,
        *,
        undone_fails: bool = False,
    ) -> None:
        super().__init__(message, "contact_not_found")
        self.contact_keys = contact_keys
        self.rest = rest
        self.undone_fails = undone_fails
