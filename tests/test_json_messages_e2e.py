"""Calls kept whole as JSON: Segment's and RudderStack's message format, as a raw event
stream, files of calls or a warehouse's JSON columns deliver them. An identify or group
call carries its fields in a `traits` object, a track call in `properties`, and beside its
`context` the pipeline's bookkeeping in camelCase (`messageId`, `type`, `sentAt`,
`receivedAt`, `originalTimestamp`, `integrations`, `channel`), which is never sent. Under
the default `unknown_attributes: fail`, one such field sent as a custom attribute would
refuse every call."""

from __future__ import annotations

from typing import Any

from tests.conftest import STR, config_for, record, run_target, schema

T0 = "2024-01-01T00:00:00.000Z"
T0_UNIX = 1704067200
OBJECT = {"type": ["object", "null"]}


def message(kind: str, message_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "messageId": message_id,
        "anonymousId": f"anon-{message_id}",
        "timestamp": T0,
        "sentAt": T0,
        "receivedAt": T0,
        "originalTimestamp": T0,
        "channel": "server",
        "integrations": {"All": True},
        "context": {"library": {"name": "analytics-node", "version": "2.0"}, "ip": "1.2.3.4"},
        **fields,
    }


def stream(name: str, *messages: dict[str, Any]) -> list[dict[str, Any]]:
    columns = {
        key: OBJECT if isinstance(value, dict) else STR
        for msg in messages
        for key, value in msg.items()
    }
    return [schema(name, columns), *(record(name, msg) for msg in messages)]


def test_an_identify_call_as_json_reads_its_traits_and_sends_no_bookkeeping(fake, tmp_path):
    fake.seed_data_attribute("plan", "string")
    traits = {
        "email": "ann@example.com",
        "name": "Ann Lee",
        "plan": "pro",
        "company": {"id": "c1", "name": "Acme"},
    }
    messages = stream("users", message("identify", "m1", userId="u1", traits=traits))
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [ann] = fake.contacts()
    assert (ann["external_id"], ann["email"], ann["name"]) == ("u1", "ann@example.com", "Ann Lee")
    assert ann["custom_attributes"] == {"plan": "pro"}
    # Segment's rule: an identify updates Last seen to the call's time.
    assert ann["last_seen_at"] == T0_UNIX
    [acme] = fake.companies()
    assert (acme["company_id"], acme["name"]) == ("c1", "Acme")
    assert fake.memberships() == {(ann["id"], acme["id"])}
    assert not [a for a in fake.data_attributes("contact") if a["name"] == "messageId"]


def test_a_group_call_as_json_fills_the_company_from_its_traits(fake, tmp_path):
    traits = {"name": "Globex", "plan": "enterprise", "employees": 50, "userCount": 3}
    messages = [
        *stream("users", message("identify", "m1", userId="u1", traits={"email": "a@x.io"})),
        *stream("companies", message("group", "m2", userId="u1", groupId="c2", traits=traits)),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [globex] = fake.companies()
    assert (globex["company_id"], globex["name"], globex["size"]) == ("c2", "Globex", 50)
    assert globex["plan"]["name"] == "enterprise"
    assert globex["custom_attributes"] == {}
    [ann] = fake.contacts()
    assert fake.memberships() == {(ann["id"], globex["id"])}


def test_a_track_call_as_json_sends_its_properties_only(fake, tmp_path):
    messages = [
        *stream("users", message("identify", "m1", userId="u1", traits={"email": "a@x.io"})),
        *stream(
            "events",
            message(
                "track",
                "m2",
                userId="u1",
                event="Order Completed",
                properties={"revenue": 10, "order_id": "o1"},
            ),
        ),
    ]
    run = run_target(config_for(fake), messages, tmp_path)
    assert run.returncode == 0, run.stderr
    [event] = fake.events()
    assert (event["event_name"], event["created_at"]) == ("Order Completed", T0_UNIX)
    assert event["metadata"] == {"order_id": "o1", "price": {"amount": 1000, "currency": "usd"}}
