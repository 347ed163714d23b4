"""Refuses a config naming a setting this target does not know.

JSON schema lets unknown properties through, so a misspelt `on_record_eror` would be
ignored and the run behave as `fail`; naming the closest known setting makes the typo
a one-line fix instead of a silent default. It is checked before singer-sdk's own check of
the config, so a misspelt required setting (`acess_token`) is named as the typo it is, not
reported as a missing `access_token`; a value is never shown.
"""

from __future__ import annotations

import difflib
from typing import Any

from target_intercom.errors import FatalError


def check_setting_names(
    config: dict[str, Any], known: set[str], sdk: set[str], secrets: frozenset[str] = frozenset()
) -> list[str]:
    """Refuses a setting this target does not know, naming the closest one it does (and,
    when that one is a secret, how to remove the misspelt one that Meltano keeps in plain
    text). Returns warnings for singer-sdk settings that other targets use and this one
    ignores."""
    warnings = []
    for name in sorted(config):
        if name in known:
            continue
        if name in sdk:
            warnings.append(
                f"Setting {name!r} is a singer-sdk setting that target-intercom does not use; "
                "it is ignored"
            )
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        secret = (
            f". Its value is not shown; if Meltano stored it, remove it with `meltano config "
            f"unset target-intercom {name}` (Meltano keeps a setting it does not know in "
            f"meltano.yml, in plain text) and set {close[0]!r} instead"
            if close and close[0] in secrets
            else ""
        )
        raise FatalError(
            f"unknown setting {name!r}{hint}; `target-intercom --about` lists every setting{secret}"
        )
    return warnings
