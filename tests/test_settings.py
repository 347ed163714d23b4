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
    ],
)
def test_refused_base_url(config, needle):
    with pytest.raises(FatalError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        resolve_base_url(config)
