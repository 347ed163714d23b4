"""The last line of defence for the token: whatever formats it into a log line, it is masked."""

from __future__ import annotations

import io
import logging

from target_intercom.redact import MASK, install_redaction


def test_token_in_any_log_line_is_masked():
    secret = "tok_live_abcdefghijklmnop"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        install_redaction(secret)
        logger = logging.getLogger("some.library")
        logger.warning("request failed: Authorization: Bearer %s", secret)
        logger.warning(f"config was {{'access_token': '{secret}'}}")
        try:
            raise ValueError(f"bad header {secret}")
        except ValueError:
            logger.exception("boom")
    finally:
        root.removeHandler(handler)
    output = stream.getvalue()
    assert secret not in output
    assert output.count(MASK) == 3
