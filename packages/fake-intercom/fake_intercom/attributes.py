"""Data attributes: the catalogue of what a contact or company may carry, and its rules.

Intercom rejects a custom attribute it does not know and a value that does not fit the
attribute's type; the target's `unknown_attributes` setting exists because of this, so the
fake must refuse exactly as Intercom does. Names are checked as strictly as Intercom
checks them (spaces allowed, as in the 2.16 description's own examples), a name is unique
across people and company data, and a workspace holds at most 250 live custom attributes,
people and company data together: a target that creates attributes on the fly must cope
with every one of these refusals.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Mapping
from typing import Any

from fake_intercom.errors import ApiError, invalid

MODELS = ("contact", "company")
DATA_TYPES = ("string", "integer", "float", "boolean", "date", "datetime", "options")
# Refused even where the general rule below would allow them (`$` is a currency symbol):
# Intercom's documentation lists these by name.
FORBIDDEN_NAME_CHARACTERS = ".$~`!@#%^&*'{}|\\\""
# Besides letters, digits and currency symbols (Unicode category Sc), which Intercom's
# message names; underscores too, since real workspaces hold snake_case attributes, and
# spaces: the 2.16 description creates "Mithril Shirt" and lists "The One Ring"
# (facts page, "Custom attributes").
NAME_PUNCTUATION = " -_"
BAD_NAME_MESSAGE = (
    "Your name for this attribute must only contain alphanumeric characters,"
    " currency symbols, and hyphens"
)
# Names are unique across people and company data. The 2.16 description gives the words
# for a contact attribute whose name a company attribute has; the other way round is not
# documented, so the fake refuses it too (the stricter reading), in the same words.
_TAKEN_BY_OTHER_MODEL = {
    "contact": (
        "You already have '{name}' in your company data. To save this as new people data,"
        " use a different name."
    ),
    "company": (
        "You already have '{name}' in your people data. To save this as new company data,"
        " use a different name."
    ),
}
MAX_CUSTOM_ATTRIBUTES = 250
MAX_STRING_LENGTH = 255

# (name, full_name, data_type, api_writable, label): the standard attributes a fresh
# workspace lists. The company set is the one in the description's example response.
_BUILTINS: dict[str, tuple[tuple[str, str, str, bool, str], ...]] = {
    "contact": (
        ("id", "id", "string", False, "ID"),
        ("external_id", "external_id", "string", True, "User ID"),
        ("role", "role", "string", True, "Role"),
        ("name", "name", "string", True, "Name"),
        ("email", "email", "string", True, "Email"),
        ("email_domain", "email_domain", "string", False, "Email domain"),
        ("phone", "phone", "string", True, "Phone"),
        ("avatar", "avatar", "string", True, "Avatar"),
        ("owner_id", "owner_id", "integer", True, "Owner"),
        ("signed_up_at", "signed_up_at", "date", True, "Signed up"),
        ("last_seen_at", "last_seen_at", "date", True, "Last seen"),
        ("created_at", "created_at", "date", False, "Created at"),
        ("updated_at", "updated_at", "date", False, "Updated at"),
        ("last_contacted_at", "last_contacted_at", "date", False, "Last contacted"),
        ("last_replied_at", "last_replied_at", "date", False, "Last heard from"),
        ("last_email_opened_at", "last_email_opened_at", "date", False, "Last opened email"),
        ("last_email_clicked_at", "last_email_clicked_at", "date", False, "Last clicked link"),
        ("unsubscribed_from_emails", "unsubscribed_from_emails", "boolean", True, "Unsubscribed"),
        ("has_hard_bounced", "has_hard_bounced", "boolean", False, "Has hard bounced"),
        ("marked_email_as_spam", "marked_email_as_spam", "boolean", False, "Marked as spam"),
        ("language_override", "language_override", "string", True, "Language override"),
        ("browser", "browser", "string", False, "Browser"),
        ("os", "os", "string", False, "OS"),
        ("country", "location.country", "string", False, "Country"),
        ("city", "location.city", "string", False, "City"),
    ),
    "company": (
        ("name", "name", "string", True, "Company name"),
        ("company_id", "company_id", "string", False, "Company ID"),
        ("last_request_at", "last_request_at", "date", False, "Company last seen"),
        ("remote_created_at", "remote_created_at", "date", True, "Company created at"),
        ("user_count", "user_count", "integer", False, "People"),
        ("session_count", "session_count", "integer", False, "Company web sessions"),
        ("name", "plan.name", "string", False, "Plan"),
        ("monthly_spend", "monthly_spend", "float", True, "Monthly Spend"),
        ("size", "size", "integer", True, "Company size"),
        ("industry", "industry", "string", True, "Company industry"),
        ("website", "website", "string", True, "Company website"),
        ("id", "id", "string", False, "ID"),
        ("created_at", "created_at", "date", False, "Created at"),
        ("updated_at", "updated_at", "date", False, "Updated at"),
        ("id", "plan.id", "string", False, "Plan ID"),
        ("app_id", "app_id", "string", False, "App ID"),
    ),
}


def _builtin_object(model: str, entry: tuple[str, str, str, bool, str]) -> dict[str, Any]:
    name, full_name, data_type, api_writable, label = entry
    return {
        "type": "data_attribute",
        "name": name,
        "full_name": full_name,
        "label": label,
        "description": label,
        "data_type": data_type,
        "api_writable": api_writable,
        "ui_writable": False,
        "messenger_writable": True,
        "custom": False,
        "archived": False,
        "model": model,
    }


_BUILTIN_OBJECTS = {m: [_builtin_object(m, e) for e in entries] for m, entries in _BUILTINS.items()}
# A custom attribute may not reuse a standard name, nor the head of a dotted one ("plan").
_RESERVED = {
    m: {e[0] for e in entries} | {e[1].split(".")[0] for e in entries}
    for m, entries in _BUILTINS.items()
}


class DataAttributes:
    """The workspace's data attributes: built-in ones plus those created through the API."""

    def __init__(
        self, max_custom: int = MAX_CUSTOM_ATTRIBUTES, references: Mapping[str, str] | None = None
    ) -> None:
        # Per workspace, not per model, and archived attributes do not count: "you can
        # archive unused attributes to free up space" (help center article 179). Whether
        # contacts and companies share the cap is not documented: sharing is the stricter
        # reading (intercom-facts.md).
        self.max_custom = max_custom
        self._custom: dict[str, dict[str, dict[str, Any]]] = {m: {} for m in MODELS}
        self._next_id = 1
        # Contacts' reference attributes (name -> custom object type): not listed, since
        # whether Intercom lists them is not documented, but their names are taken.
        self._references: Mapping[str, str] = references if references is not None else {}

    def listing(self, model: str | None, include_archived: bool) -> list[dict[str, Any]]:
        """What `GET /data_attributes` shows: copies, so callers may keep them."""
        if model and model not in MODELS:
            raise ApiError(422, "parameter_invalid", f"model={model} is not supported")
        out: list[dict[str, Any]] = []
        for m in (model,) if model else MODELS:
            out += [dict(a) for a in _BUILTIN_OBJECTS[m]]
            out += [
                {**a, "options": list(a["options"])} if "options" in a else dict(a)
                for a in self._custom[m].values()
                if include_archived or not a["archived"]
            ]
        return out

    def create(self, body: dict[str, Any], archived: bool = False) -> dict[str, Any]:
        """Apply Intercom's naming and typing rules, then add the attribute."""
        name, model, data_type = body.get("name"), body.get("model"), body.get("data_type")
        if model not in MODELS:
            raise invalid("The Data Attribute model field must be either contact or company")
        if not isinstance(name, str) or not name.strip():
            raise invalid("The attribute name can't be blank")
        if not all(_allowed_in_name(c) for c in name):
            raise invalid(BAD_NAME_MESSAGE)
        # An archived attribute still holds its name: it stays in `_custom`.
        if name in self._custom[model] or name in _RESERVED[model] or name in self._references:
            raise invalid(
                f"You already have '{name}' in your workspace. Please choose a different name."
            )
        other = "company" if model == "contact" else "contact"
        if name in self._custom[other]:
            raise invalid(_TAKEN_BY_OTHER_MODEL[model].format(name=name))
        if data_type not in DATA_TYPES:
            raise invalid("Data Type isn't an option")
        live = sum(not a["archived"] for m in MODELS for a in self._custom[m].values())
        if not archived and live >= self.max_custom:
            raise invalid(f"You have reached the limit of {self.max_custom} custom attributes")
        now = int(time.time())
        attribute: dict[str, Any] = {
            "id": self._next_id,
            "type": "data_attribute",
            "name": name,
            "full_name": f"custom_attributes.{name}",
            "label": name,
            "description": body.get("description") or "",
            # Intercom stores datetime attributes as dates (Unix seconds).
            "data_type": "date" if data_type == "datetime" else data_type,
            "api_writable": True,
            "ui_writable": False,
            "messenger_writable": body.get("messenger_writable") is True,
            "custom": True,
            "archived": archived,
            "created_at": now,
            "updated_at": now,
            "model": model,
        }
        if data_type == "options":
            options = body.get("options")
            values = [o.get("value") for o in options or () if isinstance(o, dict)]
            if len(values) < 2 or not all(isinstance(v, str) for v in values):
                raise invalid("A list attribute needs at least two options, each a string value")
            attribute["options"] = values
        self._next_id += 1
        self._custom[model][name] = attribute
        return dict(attribute)

    def check_values(self, model: str, values: Any) -> dict[str, Any]:
        """Return `values` if every key is a live custom attribute and every value fits it.

        Raises before anything is stored, so a rejected request changes nothing.
        """
        if not isinstance(values, dict):
            raise invalid("custom_attributes must be an object")
        for name, value in values.items():
            attribute = self._custom[model].get(name)
            if attribute is None or attribute["archived"]:
                raise invalid(f"Custom attribute '{name}' does not exist")
            _check_value(name, attribute, value)
        return values


def _allowed_in_name(character: str) -> bool:
    """Letters and digits of any script, currency symbols, spaces, hyphens and underscores,
    except the characters Intercom's documentation forbids by name."""
    if character in FORBIDDEN_NAME_CHARACTERS:
        return False
    return (
        character.isalnum()
        or character in NAME_PUNCTUATION
        or unicodedata.category(character) == "Sc"
    )


def _check_value(name: str, attribute: dict[str, Any], value: Any) -> None:
    """Null clears an attribute; anything else must match the attribute's data type."""
    if value is None:
        return
    if isinstance(value, (list, dict)):
        raise invalid(f"Custom attribute '{name}' cannot hold a list or an object")
    data_type = attribute["data_type"]
    is_int = isinstance(value, int) and not isinstance(value, bool)
    fits = {
        "string": isinstance(value, str),
        "options": isinstance(value, str),
        "integer": is_int,
        "date": is_int,
        "float": is_int or isinstance(value, float),
        "boolean": isinstance(value, bool),
    }[data_type]
    if not fits:
        expected = "a date (integer Unix seconds)" if data_type == "date" else f"a {data_type}"
        raise invalid(f"Custom attribute '{name}' must be {expected}, not {value!r}")
    if isinstance(value, str) and len(value) > MAX_STRING_LENGTH:
        raise invalid(f"Custom attribute '{name}' is longer than {MAX_STRING_LENGTH} characters")
    if data_type == "options" and value not in attribute["options"]:
        raise invalid(f"'{value}' is not an option of custom attribute '{name}'")
