"""The one exception the fake's rules raise: it becomes Intercom's error envelope."""

from __future__ import annotations


class ApiError(Exception):
    """An Intercom API error; the server turns it into `{"type": "error.list", ...}`.

    Raising it is how a rule refuses a request: raised before any change is made, it
    guarantees the request leaves the workspace untouched, as Intercom's do.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def invalid(message: str) -> ApiError:
    """The commonest refusal: 400 `parameter_invalid`."""
    return ApiError(400, "parameter_invalid", message)


def user_not_found() -> ApiError:
    """Intercom's answer for a contact id, external id or email it cannot find."""
    return ApiError(404, "not_found", "User Not Found")


def company_not_found() -> ApiError:
    """Intercom's answer for an unknown company, whichever id was used."""
    return ApiError(404, "company_not_found", "Company Not Found")


def contact_merged() -> ApiError:
    """Intercom's answer (API 2.16) for the id of a contact merged into another: the id
    is gone for good, so a client must look the person up again instead of retrying."""
    return ApiError(410, "contact_merged", "Contact has been merged")
