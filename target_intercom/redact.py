"""Defense in depth for the access token: no log line may carry it, whatever formats it.

The client never puts the token anywhere but its Authorization header; this filter
is the second line, for messages built from settings or from third-party exceptions.
"""

from __future__ import annotations

import logging

MASK = "********"


class RedactToken(logging.Filter):
    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret in message:
            record.msg = message.replace(self.secret, MASK)
            record.args = None
        if record.exc_info:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            if self.secret in text:
                record.exc_info = None
                record.exc_text = text.replace(self.secret, MASK)
        return True


def install_redaction(secret: str) -> None:
    """Masks the secret on every handler of the root logger (where every log line ends up).

    Settings refuse tokens too short to mask safely, so every token a run uses is masked.
    """
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactToken) and f.secret == secret for f in handler.filters):
            handler.addFilter(RedactToken(secret))
