"""The last line of defence for the token: whatever formats it into a log line, it is masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from target_intercom.credentials import declared_tokens
from target_intercom.redact import MASK, install_redaction


@pytest.fixture
def root_log() -> Iterator[io.StringIO]:
    """What the root logger writes, as a handler of the SDK's would see it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def test_token_in_any_log_line_is_masked(root_log):
    secret = "tok_live_abcdefghijklmnop"
    install_redaction(secret)
    logger = logging.getLogger("some.library")
    logger.warning("request failed: Authorization: Bearer %s", secret)
    logger.warning(f"config was {{'access_token': '{secret}'}}")
    try:
        raise ValueError(f"bad header {secret}")
    except ValueError:
        logger.exception("boom")
    output = root_log.getvalue()
    assert secret not in output
    assert output.count(MASK) == 3


def test_escaped_forms_of_the_token_are_masked_too(root_log):
    secret = 'tok"with\\quote-é'
    install_redaction(secret)
    logger = logging.getLogger("some.library")
    logger.warning("echoed body: %s", json.dumps({"token": secret}))
    logger.warning("repr: %r", secret)
    output = root_log.getvalue()
    assert json.dumps(secret)[1:-1] not in output
    assert repr(secret)[1:-1] not in output
    assert output.count(MASK) == 2


def test_the_tokens_a_config_declares_are_known_before_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"access_token": "tok_from_file_123\r\n"}))
    monkeypatch.setenv("TARGET_INTERCOM_ACCESS_TOKEN", "tok_from_env_456")
    tokens = declared_tokens([str(path), {"access_token": "tok_from_dict_789"}], True)
    assert {"tok_from_file_123", "tok_from_env_456", "tok_from_dict_789"} <= set(tokens)
    assert declared_tokens({"access_token": "abc"}, False) == []
