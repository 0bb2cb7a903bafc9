"""The OpenAPI schema documents every room and history endpoint, with no warning."""

import pytest
import yaml
from django.core.management import call_command

from tests.helpers import api_client_for

pytestmark = pytest.mark.django_db

ROOM_OPERATIONS = {
    ("/api/v1/rooms", "get"): "rooms_list",
    ("/api/v1/rooms", "post"): "rooms_create",
    ("/api/v1/rooms/nearby", "get"): "rooms_nearby",
    ("/api/v1/rooms/{code}", "get"): "rooms_get",
    ("/api/v1/rooms/{code}", "delete"): "rooms_close",
    ("/api/v1/rooms/{code}/announcement", "get"): "rooms_announcement_get",
    ("/api/v1/rooms/{code}/announcement", "put"): "rooms_announcement_set",
    ("/api/v1/rooms/{code}/enter", "post"): "rooms_enter",
    ("/api/v1/rooms/{code}/leave", "post"): "rooms_leave",
    ("/api/v1/rooms/{code}/members", "get"): "rooms_members",
    ("/api/v1/rooms/{code}/messages", "get"): "rooms_messages_list",
    ("/api/v1/rooms/{code}/messages", "post"): "rooms_messages_post",
    ("/api/v1/rooms/{code}/messages/info", "get"): "rooms_messages_info",
    ("/api/v1/rooms/{code}/messages/{seq}", "get"): "rooms_messages_get",
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    # --fail-on-warn: any warning (an undocumented response, a clashing enum) fails here.
    call_command("spectacular", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_schema_generates_without_warnings_and_lists_every_operation(schema):
    found = {
        (path, method): operation["operationId"]
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if path.startswith("/api/v1/rooms")
    }
    for key, operation_id in ROOM_OPERATIONS.items():
        assert found.get(key) == operation_id, key


def test_schema_documents_request_and_response_shapes(schema):
    post = schema["paths"]["/api/v1/rooms/{code}/messages"]["post"]
    assert set(post["responses"]) == {"200", "201", "400", "401", "403", "404", "410", "429"}
    request = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][request.rsplit("/", 1)[1]]
    assert body["properties"]["body"]["maxLength"] == 2000
    assert body["properties"]["client_id"]["maxLength"] == 64
    assert set(body["required"]) == {"body", "client_id"}
    paging = {
        p["name"]: p for p in schema["paths"]["/api/v1/rooms/{code}/messages"]["get"]["parameters"]
    }
    assert (paging["limit"]["schema"]["minimum"], paging["limit"]["schema"]["maximum"]) == (1, 100)
    assert {"after", "before", "code"} <= set(paging)
    fence = schema["components"]["schemas"]["GeofenceRequest"]["properties"]
    assert (fence["radius_m"]["minimum"], fence["radius_m"]["maximum"]) == (50, 50000)
    assert (fence["latitude"]["minimum"], fence["latitude"]["maximum"]) == (-90, 90)
    detail = schema["components"]["schemas"]["RoomDetail"]["properties"]
    assert {
        "owner",
        "member_count",
        "last_seq",
        "expires_at",
        "geofence",
        "status",
        "my_role",
    } <= set(detail)


def test_schema_never_mentions_openid_fields(schema):
    for component in schema["components"]["schemas"].values():
        assert "openid" not in component.get("properties", {})


def test_schema_is_served(user):
    response = api_client_for(user).get("/api/schema/")
    assert response.status_code == 200
