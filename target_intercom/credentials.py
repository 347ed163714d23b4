"""The access token's policy: what form it must have, where a config may carry it, and
which hosts may receive it.

Redaction (redact.py) can only mask a token it knows of and that is long enough to mask
without masking ordinary words, so the token is found and checked before singer-sdk logs
anything; and no masking helps once the token has crossed the network in plain text, so
an overridden API root must be https, or http on this machine only.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import urlsplit

from target_intercom.errors import FatalError

# Intercom's access tokens are about 60 characters long.
MIN_TOKEN_LENGTH = 8


def checked_token(value: Any) -> str:
    """The token without the whitespace a copied line or a CRLF `.env` file leaves around it.

    A token with whitespace inside, or none at all, is refused without quoting it.
    """
    token = str(value).strip()
    if len(token) < MIN_TOKEN_LENGTH or any(char.isspace() for char in token):
        # Too short to be Intercom's, and too short to mask in logs without masking
        # ordinary words: refused before it is used anywhere.
        raise FatalError(
            f"access_token is shorter than {MIN_TOKEN_LENGTH} characters or has whitespace "
            "inside it; copy it again from Intercom's Developer Hub (your app > Authentication)"
        )
    return token


def declared_tokens(config: Any, parse_env: bool) -> list[str]:
    """Every access_token the config as given may carry, before anything reads it:
    a dict, or the JSON file(s) named, and the environment when it is read too. Only
    tokens long enough to be used are returned (shorter ones are refused unquoted)."""
    sources: list[Any] = config if isinstance(config, list) else [config]
    found: list[Any] = []
    for source in sources:
        if isinstance(source, (str, PurePath)):
            with contextlib.suppress(OSError, ValueError):
                source = json.loads(Path(source).read_text(encoding="utf-8"))
        if isinstance(source, dict):
            found.append(source.get("access_token"))
            found.append(_url_password(source.get("sync_store_url")))
    if parse_env:
        found.append(os.environ.get("TARGET_INTERCOM_ACCESS_TOKEN"))
        found.append(_url_password(os.environ.get("TARGET_INTERCOM_SYNC_STORE_URL")))
    tokens = {form for value in found if value for form in (str(value), str(value).strip())}
    return sorted(t for t in tokens if len(t.strip()) >= MIN_TOKEN_LENGTH)


def _url_password(url: Any) -> str | None:
    """The password inside a database URL, masked in logs like the token."""
    if not isinstance(url, str):
        return None
    with contextlib.suppress(ValueError):
        return urlsplit(url).password
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def safe_base_url(url: str) -> str:
    """api_base_url as the API root, if the token may go there: https, or http on loopback."""
    parts = urlsplit(url)
    # Named by scheme and host only: the rest of a refused URL may hold a password.
    where = f"{parts.scheme}://{parts.hostname}" if parts.hostname else "(no host)"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FatalError(f"api_base_url {where} is not an http(s) URL")
    if any(char in url for char in "\\@?#") or any(char.isspace() for char in url):
        # HTTP libraries and urlsplit disagree on such URLs (`http://a\\@127.0.0.1` is
        # 127.0.0.1 to one and `a` to the other), so only the plain form is taken.
        raise FatalError(
            f"api_base_url {where} must be a plain scheme://host[:port][/path] URL, with no "
            "user, password, query, fragment or backslash"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise FatalError(
            f"api_base_url {where} is plain http to a host that is not loopback; the access "
            "token would cross the network unencrypted. Use https."
        )
    return url.rstrip("/")
