"""A workspace's own attribute names: a column is written to the attribute whose name it
matches without case, spaces, underscores and hyphens; a new attribute keeps its column's
spaces; a name the other model holds is refused naming that model. Intercom's 2.16
description creates "Mithril Shirt", lists "The One Ring", and refuses a contact attribute a
company attribute already names (see the facts page, "Custom attributes")."""

from __future__ import annotations

import json

import pytest

from tests.conftest import STR, config_for, record, run_target, schema


def users(column: str) -> dict:
    return schema("users", {"id": STR, column: STR}, ["id"])


def dead_letters(tmp_path) -> list[dict]:
    path = tmp_path / "target-intercom.dead-letter.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def custom_names(fake, model: str = "contact") -> list[str]:
    return sorted(a["name"] for a in fake.data_attributes(model) if a.get("custom"))


@pytest.mark.parametrize("column", ["Plan Tier", "plan_tier", "PLAN-TIER"])
def test_a_column_writes_to_the_one_attribute_it_matches(fake, tmp_path, column):
    fake.seed_data_attribute("Plan Tier", "string")
    messages = [users(column), record("users", {"id": "u1", column: "gold"})]
    run = run_target(config_for(fake, unknown_attributes="create"), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [contact] = fake.contacts()
    assert contact["custom_attributes"] == {"Plan Tier": "gold"}
    assert custom_names(fake) == ["Plan Tier"]  # no second, near-identical attribute
    assert not [c for c in fake.calls() if c.route == "POST /data_attributes"]


def test_a_loose_match_needs_no_unknown_attributes_setting(fake, tmp_path):
    # Under the default `fail`, too: the attribute exists, only its spelling differs.
    fake.seed_data_attribute("Plan Tier", "string")
    messages = [users("plan_tier"), record("users", {"id": "u1", "plan_tier": "gold"})]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert fake.contacts()[0]["custom_attributes"] == {"Plan Tier": "gold"}
    assert "Column 'plan_tier' is written to the workspace's contact attribute" in run.stderr


def test_a_new_attribute_keeps_the_spaces_of_its_column(fake, tmp_path):
    messages = [users("Mithril Shirt"), record("users", {"id": "u1", "Mithril Shirt": "worn"})]
    run = run_target(config_for(fake, unknown_attributes="create"), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert custom_names(fake) == ["Mithril Shirt"]
    assert fake.contacts()[0]["custom_attributes"] == {"Mithril Shirt": "worn"}
    assert "is sent as contact attribute" not in run.stderr


def test_a_name_the_company_data_holds_is_refused_naming_it(fake, tmp_path):
    fake.seed_data_attribute("The One Ring", "string", model="company")
    messages = [
        users("The One Ring"),
        record("users", {"id": "u1", "The One Ring": "mine"}),
        record("users", {"id": "u2", "The One Ring": "also mine"}),
        record("users", {"id": "u9"}),  # delivered: the run is not all rejections
    ]
    config = config_for(fake, on_record_error="skip", unknown_attributes="create")
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert [c["external_id"] for c in fake.contacts()] == ["u9"]
    letters = dead_letters(tmp_path)
    assert sorted(letter["record"]["id"] for letter in letters) == ["u1", "u2"]
    assert letters[0]["error_message"] == (
        "custom attribute 'The One Ring' exists in Intercom's company data; a contact "
        "attribute cannot have the same name (Intercom keeps one name across people and "
        "company data): rename the column (stream_maps)"
    )
    assert "standard attributes" not in letters[0]["error_message"]
    creates = [c for c in fake.calls() if c.route == "POST /data_attributes"]
    assert len(creates) == 1  # asked once, then refused at once
    assert custom_names(fake) == []


def test_two_matches_take_the_exact_name_else_refuse_naming_both(fake, tmp_path):
    fake.seed_data_attribute("Plan Tier", "string")
    fake.seed_data_attribute("plan_tier", "string")
    messages = [
        schema("users", {"id": STR, "Plan Tier": STR, "plan-tier": STR}, ["id"]),
        record("users", {"id": "u1", "Plan Tier": "gold"}),
        record("users", {"id": "u2", "plan-tier": "silver"}),
    ]
    config = config_for(fake, on_record_error="skip", unknown_attributes="create")
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [contact] = fake.contacts()
    assert (contact["external_id"], contact["custom_attributes"]) == ("u1", {"Plan Tier": "gold"})
    [letter] = dead_letters(tmp_path)
    assert letter["record"]["id"] == "u2"
    assert letter["error_code"] == "ambiguous_attribute"
    both = "column 'plan-tier' matches the contact attributes 'Plan Tier' and 'plan_tier'"
    assert both in letter["error_message"]
    assert custom_names(fake) == ["Plan Tier", "plan_tier"]


@pytest.mark.parametrize("policy", ["fail", "drop"])
def test_under_fail_or_drop_a_name_the_other_model_holds_says_so(fake, tmp_path, policy):
    # Creating the attribute in Intercom would not help: the name is company data's.
    fake.seed_data_attribute("The One Ring", "string", model="company")
    messages = [
        users("The One Ring"),
        record("users", {"id": "u1", "The One Ring": "mine"}),
        record("users", {"id": "u9"}),
    ]
    config = config_for(fake, on_record_error="skip", unknown_attributes=policy)
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr
    if policy == "fail":
        assert [c["external_id"] for c in fake.contacts()] == ["u9"]
        [letter] = dead_letters(tmp_path)
        assert letter["error_code"] == "attribute_name_taken"
        assert "exists in Intercom's company data" in letter["error_message"]
        assert "create it in Intercom" not in letter["error_message"]
    else:
        assert sorted(c["external_id"] for c in fake.contacts()) == ["u1", "u9"]
        assert all(not c.get("custom_attributes") for c in fake.contacts())
        assert (
            "Dropping custom attribute 'The One Ring': it is a custom attribute of "
            "Intercom's company data" in run.stderr
        )
    assert custom_names(fake) == []


def companies(column: str) -> dict:
    return schema("companies", {"company_id": STR, "name": STR, column: STR}, ["company_id"])


def test_a_company_column_writes_to_the_company_attribute_it_matches(fake, tmp_path):
    fake.seed_data_attribute("Plan Tier", "string", model="company")
    messages = [
        companies("plan_tier"),
        record("companies", {"company_id": "c1", "name": "Acme", "plan_tier": "gold"}),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [company] = fake.companies()
    assert company["custom_attributes"] == {"Plan Tier": "gold"}
    assert custom_names(fake, "company") == ["Plan Tier"]


def test_a_company_column_named_as_people_data_is_refused_naming_it(fake, tmp_path):
    fake.seed_data_attribute("Mithril Shirt", "string", model="contact")
    messages = [
        companies("Mithril Shirt"),
        record("companies", {"company_id": "c1", "name": "Acme", "Mithril Shirt": "x"}),
        record("companies", {"company_id": "c2", "name": "Bree"}),
    ]
    config = config_for(fake, on_record_error="skip", unknown_attributes="create")
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr
    assert [c["company_id"] for c in fake.companies()] == ["c2"]
    [letter] = dead_letters(tmp_path)
    assert letter["error_code"] == "attribute_name_taken"
    assert letter["error_message"].startswith(
        "custom attribute 'Mithril Shirt' exists in Intercom's people data; a company attribute"
    )
    assert custom_names(fake, "company") == []
