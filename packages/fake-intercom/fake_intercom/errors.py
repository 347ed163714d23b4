"""The one exception the fake's rules raise: it becomes Intercom's error envelope."""

from __future__ import annotations


class ApiError(Exception):
    """An Intercom API error; the server turns it into `{"type": "error.list", ...}`.

    Raising it is how a rule refuses a request: raised before any change is made, it
    guarantees the request leaves the workspace untouched, as Intercom's do.
    """

    def __init__(
        self, status: int, code: str, message: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        # Sent with the envelope: the `Link` that names a merged contact's canonical one.
        self.headers = headers


def invalid(message: str) -> ApiError:
    """The commonest refusal: 400 `parameter_invalid`."""
    return ApiError(400, "parameter_invalid", message)


def user_not_found() -> ApiError:
    """Intercom's answer for a contact id, external id or email it cannot find."""
    return ApiError(404, "not_found", "User Not Found")


def company_not_found() -> ApiError:
    """Intercom's answer for an unknown company, whichever id was used."""
    return ApiError(404, "company_not_found", "Company Not Found")


MERGED_MESSAGE = "This contact has been merged. See the 'Link' header for the canonical contact."


def contact_merged(canonical_id: str) -> ApiError:
    """Intercom's answer (API 2.16) for a contact merged into another, named by its id or
    (a user) its external_id: the id is gone for good, and the `Link` header names the
    contact it lives on as."""
    link = ("Link", f'</contacts/{canonical_id}>; rel="canonical"')
    return ApiError(410, "contact_merged", MERGED_MESSAGE, (link,))
