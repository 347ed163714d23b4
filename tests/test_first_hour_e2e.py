"""What a new user meets first: a misspelt setting, a host that cannot be reached, a token
of another region; each is one line that names the cause."""

from __future__ import annotations

import dataclasses
import sys

import pytest

from target_intercom.errors import FatalError
from target_intercom.runtime import Runtime
from target_intercom.settings import Settings
from tests.conftest import STR, TOKEN, config_for, record, run_target, schema

USERS = schema("users", {"id": STR}, ["id"])


def test_a_misspelt_setting_is_refused_naming_the_closest_one(fake, tmp_path):
    config = {**config_for(fake), "on_record_eror": "skip"}
    run = run_target(config, [USERS, record("users", {"id": "u1"})], tmp_path)
    assert run.returncode == 1
    assert "unknown setting 'on_record_eror' (did you mean 'on_record_error'?)" in run.stderr
    assert fake.calls() == []


def test_a_misspelt_required_setting_is_named_not_reported_missing(fake, tmp_path):
    config = config_for(fake)
    config["acess_token"] = config.pop("access_token")
    run = run_target(config, [USERS, record("users", {"id": "u1"})], tmp_path)
    assert run.returncode == 1
    [line] = [line for line in run.stderr.splitlines() if "ERROR" in line]
    assert "unknown setting 'acess_token' (did you mean 'access_token'?)" in line
    assert "meltano config unset target-intercom acess_token" in line
    assert "is a required property" not in run.stderr
    assert TOKEN not in run.stderr
    assert fake.calls() == []


def test_a_singer_sdk_setting_this_target_ignores_is_a_warning(fake, tmp_path):
    config = {**config_for(fake), "add_record_metadata": True}
    run = run_target(config, [USERS, record("users", {"id": "u1"})], tmp_path)
    assert run.returncode == 0, run.stderr
    assert "Setting 'add_record_metadata' is a singer-sdk setting" in run.stderr
    assert len(fake.contacts()) == 1


def test_a_host_that_cannot_be_reached_is_named(fake, tmp_path):
    config = {**config_for(fake, max_retries=0), "api_base_url": "http://127.0.0.1:9"}
    run = run_target(config, [USERS, record("users", {"id": "u1"})], tmp_path)
    assert run.returncode == 1
    assert "connection to 127.0.0.1:9 failed" in run.stderr
    assert TOKEN not in run.stderr


def test_a_token_of_another_region_says_which_region(fake):
    settings = Settings.from_config(config_for(fake, region="eu"))
    # As if the region picked the host: the fake's workspace is in the US region.
    settings = dataclasses.replace(settings, region_stated=True)
    runtime = Runtime(settings, write_state=lambda state: None)
    try:
        with pytest.raises(FatalError, match="hosted in the US region, but region is 'eu'"):
            runtime.check_access()
    finally:
        runtime.close(wait=False)


@pytest.mark.parametrize(
    ("scheme", "named"),
    [
        (
            "postgresql+psycopg",
            "needs the PostgreSQL driver psycopg, which comes with "
            "target-intercom's postgres extra: under Meltano, end the loader's pip URL with "
            "[postgres]",
        ),
        ("postgresql", "names the psycopg2 driver (postgresql://...)"),
    ],
)
def test_a_missing_postgres_driver_names_the_extra_never_the_password(
    fake, tmp_path, monkeypatch, scheme, named
):
    # As in a loader installed without the postgres extra: the driver cannot be imported.
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.setitem(sys.modules, "psycopg2", None)
    url = f"{scheme}://intercom:Pw-s3cret-0123@127.0.0.1:5432/sync"
    run = run_target(
        config_for(fake, sync_store_url=url), [USERS, record("users", {"id": "u1"})], tmp_path
    )
    assert run.returncode == 1
    [line] = [line for line in run.stderr.splitlines() if "target-intercom failed" in line]
    assert f"the sync store {scheme}://intercom:***@127.0.0.1:5432/sync" in line
    assert named in line
    assert "Pw-s3cret-0123" not in run.stderr
    assert fake.contacts() == []
