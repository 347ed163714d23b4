"""The fake's custom objects (API 2.16), rule by rule, spoken to over HTTP.

Each rule is the 2.16 description's, paths `/custom_object_instances/{type}` and the
`PUT /contacts/{id}` example `update_a_contact_with_an_association_to_a_custom_object_instance`
(intercom-facts.md, "Custom objects (2.16)").
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from fake_intercom import FakeIntercom

from tests.test_fake_intercom import TOKEN, Api, create, error_of

ORDERS = "/custom_object_instances/Order"


@pytest.fixture
def fake() -> Iterator[FakeIntercom]:
    with FakeIntercom(token=TOKEN) as server:
        server.seed_custom_object_type(
            "Order", attributes=["order_number", "total"], reference_attribute="order"
        )
        yield server


@pytest.fixture
def api(fake: FakeIntercom) -> Api:
    assert fake.url is not None
    return Api(fake.url)


def upsert(api: Api, **body: object) -> dict[str, object]:
    response = api("POST", ORDERS, body)
    assert response.status_code == 200, response.text
    return response.json()


def test_upsert_by_external_id_creates_once_then_updates(api: Api, fake: FakeIntercom) -> None:
    first = upsert(
        api, external_id="o1", external_created_at=1700000000, custom_attributes={"total": "9.5"}
    )
    assert first["type"] == "Order" and first["external_id"] == "o1"
    assert first["external_created_at"] == 1700000000 and first["external_updated_at"] is None
    again = upsert(api, external_id="o1", custom_attributes={"order_number": "A-1"})
    assert again["id"] == first["id"]
    assert again["custom_attributes"] == {"total": "9.5", "order_number": "A-1"}
    (held,) = fake.custom_object_instances("Order")
    assert held == again
    assert fake.validation_errors() == []


def test_get_by_external_id_is_the_single_instance(api: Api) -> None:
    made = upsert(api, external_id="o1")
    response = api("GET", ORDERS, params={"external_id": "o1"})
    assert response.status_code == 200 and response.json() == made
    assert api("GET", f"{ORDERS}/{made['id']}").json() == made
    assert error_of(api("GET", ORDERS, params={"external_id": "nope"})) == (
        404,
        "not_found",
        "Object not found",
    )


def test_values_are_strings_only_and_attributes_must_exist(api: Api, fake: FakeIntercom) -> None:
    # The schema: custom_attributes "additionalProperties: type: string".
    fake.configure(validate=False)  # the fake's own rule, not only the description's
    for values in ({"total": 9.5}, {"total": None}, {"total": ["1"]}):
        status, code, _ = error_of(
            api("POST", ORDERS, {"external_id": "o1", "custom_attributes": values})
        )
        assert (status, code) == (400, "parameter_invalid")
    status, code, message = error_of(
        api("POST", ORDERS, {"external_id": "o1", "custom_attributes": {"colour": "red"}})
    )
    assert (status, code) == (400, "parameter_invalid") and "colour" in message
    assert fake.custom_object_instances("Order") == []


def test_a_number_fails_the_description_too(api: Api, fake: FakeIntercom) -> None:
    response = api("POST", ORDERS, {"external_id": "o1", "custom_attributes": {"total": 1}})
    assert response.status_code == 400
    assert fake.validating == (fake.validation_errors() != [])


def test_unknown_type_is_type_not_found(api: Api) -> None:
    # The description's `TypeNotFound` response, for POST and GET alike.
    expected = (404, "not_found", "Custom object type `Booking` not found")
    assert error_of(api("POST", "/custom_object_instances/Booking", {"external_id": "b"})) == (
        expected
    )
    assert error_of(api("GET", "/custom_object_instances/Booking")) == expected


def test_contact_reference_holds_existing_ids_and_lists_by_contact(
    api: Api, fake: FakeIntercom
) -> None:
    one, two = upsert(api, external_id="o1"), upsert(api, external_id="o2")
    upsert(api, external_id="o3")
    contact = create(api, external_id="u1")
    path = f"/contacts/{contact['id']}"
    response = api("PUT", path, {"custom_attributes": {"order": [one["id"], two["id"]]}})
    assert response.status_code == 200, response.text
    assert response.json()["custom_attributes"]["order"] == [one["id"], two["id"]]
    listed = api("GET", ORDERS, params={"references_contact_id": contact["id"]}).json()
    assert listed["total_count"] == 2
    assert [i["external_id"] for i in listed["data"]] == ["o1", "o2"]
    # A write replaces the list (send the whole list: intercom-facts.md).
    api("PUT", path, {"custom_attributes": {"order": [two["id"]]}})
    listed = api("GET", ORDERS, params={"references_contact_id": contact["id"]}).json()
    assert [i["external_id"] for i in listed["data"]] == ["o2"]
    assert fake.validation_errors() == []


def test_contact_reference_refuses_an_unknown_id_and_changes_nothing(
    api: Api, fake: FakeIntercom
) -> None:
    contact = create(api, external_id="u1")
    body = {"name": "Ann", "custom_attributes": {"order": ["999"]}}
    status, code, message = error_of(api("PUT", f"/contacts/{contact['id']}", body))
    assert (status, code) == (400, "parameter_invalid") and "999" in message
    (held,) = fake.contacts()
    assert held["name"] is None and "order" not in held["custom_attributes"]


def test_reference_name_is_taken_for_new_attributes(api: Api) -> None:
    body = {"name": "order", "model": "contact", "data_type": "string"}
    assert error_of(api("POST", "/data_attributes", body))[:2] == (400, "parameter_invalid")


def test_listing_an_unknown_contact_is_user_not_found(api: Api) -> None:
    response = api("GET", ORDERS, params={"references_contact_id": "nobody"})
    assert error_of(response) == (404, "not_found", "User Not Found")


def test_delete_by_external_id_drops_it_from_references(api: Api, fake: FakeIntercom) -> None:
    made = upsert(api, external_id="o1")
    contact = create(api, external_id="u1")
    api("PUT", f"/contacts/{contact['id']}", {"custom_attributes": {"order": [made["id"]]}})
    response = api("DELETE", ORDERS, params={"external_id": "o1"})
    assert response.json() == {"id": made["id"], "object": "Order", "deleted": True}
    assert fake.custom_object_instances("Order") == []
    assert fake.contacts()[0]["custom_attributes"]["order"] == []


def test_control_endpoint_seeds_a_type(api: Api) -> None:
    body = {"name": "Booking", "attributes": ["room"], "reference_attribute": "bookings"}
    assert requests.post(api.url + "/_fake/custom_object_type", json=body, timeout=5).ok
    response = api("POST", "/custom_object_instances/Booking", {"external_id": "b1"})
    assert response.status_code == 200, response.text
    state = requests.get(api.url + "/_fake/state", timeout=5).json()
    assert [i["external_id"] for i in state["custom_object_instances"]["Booking"]] == ["b1"]
