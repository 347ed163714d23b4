"""Defense in depth for the access token: no log line may carry it, whatever formats it.

The client never puts the token anywhere but its Authorization header; this filter
is the second line, for messages built from settings or from third-party exceptions.
"""

from __future__ import annotations

import json
import logging

MASK = "********"


def written_forms(secret: str) -> list[str]:
    """The secret as text may carry it: as is, inside a JSON string, inside a Python repr."""
    forms = {secret, json.dumps(secret)[1:-1], repr(secret)[1:-1]}
    return sorted(forms, key=len, reverse=True)


def mask(text: str, forms: list[str]) -> str:
    """The text with every form of the token replaced by a mask."""
    for form in forms:
        text = text.replace(form, MASK)
    return text


class RedactToken(logging.Filter):
    """A logging filter that masks the token in the message and its arguments."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret
        self._forms = written_forms(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        """Masks the token in the record in place; never drops a record."""
        message = record.getMessage()
        masked = mask(message, self._forms)
        if masked != message:
            record.msg = masked
            record.args = None
        if record.exc_info:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            masked = mask(text, self._forms)
            if masked != text:
                record.exc_info = None
                record.exc_text = masked
        return True


def install_redaction(secret: str) -> None:
    """Masks the secret on every handler of the root logger (where every log line ends up).

    The token policy (credentials.py) refuses tokens too short to mask safely, so every
    token a run uses is masked.
    """
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactToken) and f.secret == secret for f in handler.filters):
            handler.addFilter(RedactToken(secret))
