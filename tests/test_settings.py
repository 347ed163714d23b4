"""Where the target sends the token: regions, overrides, and the https-only rule."""

from __future__ import annotations

import pytest

from target_intercom.errors import FatalError
from target_intercom.settings import resolve_base_url


@pytest.mark.parametrize(
    ("config", "url"),
    [
        ({}, "https://api.intercom.io"),
        ({"region": "us"}, "https://api.intercom.io"),
        ({"region": "eu"}, "https://api.eu.intercom.io"),
        ({"region": "au"}, "https://api.au.intercom.io"),
        (
            {"region": "eu", "api_base_url": "https://proxy.example.com/"},
            "https://proxy.example.com",
        ),
        ({"api_base_url": "http://127.0.0.1:8080"}, "http://127.0.0.1:8080"),
        ({"api_base_url": "http://localhost:9"}, "http://localhost:9"),
        ({"api_base_url": "http://[::1]:9"}, "http://[::1]:9"),
    ],
)
def test_base_url(config, url):
    assert resolve_base_url(config) == url


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"region": "mars"}, "region"),
        ({"api_base_url": "http://api.intercom.io"}, "https"),
        ({"api_base_url": "http://10.0.0.5:80"}, "https"),
        ({"api_base_url": "ftp://api.intercom.io"}, "not an http(s) URL"),
        ({"api_base_url": "api.intercom.io"}, "not an http(s) URL"),
        ({"api_base_url": "http://10.0.0.1\\@127.0.0.1:9"}, "plain scheme://host"),
        ({"api_base_url": "https://user:pw@proxy.example.com"}, "plain scheme://host"),
        ({"api_base_url": "https://proxy.example.com/?x=1"}, "plain scheme://host"),
    ],
)
def test_refused_base_url(config, needle):
    with pytest.raises(FatalError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        resolve_base_url(config)


def test_a_refused_base_url_is_named_without_its_password():
    with pytest.raises(FatalError) as caught:
        resolve_base_url({"api_base_url": "http://user:hunter2@10.0.0.5:80/x"})
    assert "hunter2" not in str(caught.value)
    assert "http://10.0.0.5" in str(caught.value)


def test_custom_objects_setting_is_typed_and_read():
    from target_intercom.config_schema import CONFIG_SCHEMA
    from target_intercom.mapping import CustomObjectStream
    from target_intercom.settings import Settings

    entry = CONFIG_SCHEMA["properties"]["custom_objects"]
    assert entry["additionalProperties"]["required"] == ["type"]
    config = {
        "access_token": "t" * 20,
        "custom_objects": {"orders": {"type": "Order", "reference_attribute": "order"}},
    }
    settings = Settings.from_config(config)
    assert settings.custom_objects == {"orders": CustomObjectStream("Order", "order", "unlink")}
    assert Settings.from_config({"access_token": "t" * 20}).custom_objects == {}


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"reference_attribute": "order"}, "custom_objects['orders'] needs \"type\""),
        (
            {"type": "Order", "refrence_attribute": "order"},
            "custom_objects['orders']: unknown key 'refrence_attribute' (it takes "
            "deleted_rows, reference_attribute, type)",
        ),
        (
            {"type": "Order", "deleted_rows": "remove"},
            "custom_objects['orders']: deleted_rows must be one of unlink, delete, ignore",
        ),
        ({"type": "Order", "reference_attribute": " "}, "reference_attribute must be"),
    ],
)
def test_a_wrong_custom_objects_entry_is_one_line_naming_it(entry, says):
    from target_intercom.errors import FatalError
    from target_intercom.settings import Settings

    with pytest.raises(FatalError) as raised:
        Settings.from_config({"access_token": "t" * 20, "custom_objects": {"orders": entry}})
    assert says in str(raised.value) and "\n" not in str(raised.value)
