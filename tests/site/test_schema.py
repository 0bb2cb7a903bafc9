"""The OpenAPI schema, the Swagger UI and the admin login, through the test client."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(name: str) -> dict:
    return {"content": {"application/json": {"schema": ref(name)}}}


ACCOUNTS_OPERATIONS = {
    ("/api/v1/auth/wechat", "post"): ("auth_wechat", "WechatLoginRequest", {"200": "AuthResult"}),
    ("/api/v1/auth/guest", "post"): ("auth_guest", "GuestLoginRequest", {"201": "AuthResult"}),
    ("/api/v1/auth/logout", "post"): ("auth_logout", None, {"204": None}),
    ("/api/v1/me", "get"): ("me_get", None, {"200": "Me"}),
    ("/api/v1/me", "patch"): ("me_update", "PatchedMeUpdateRequest", {"200": "Me"}),
    ("/api/v1/users/{user_id}", "get"): ("user_get", None, {"200": "PublicUser"}),
}
ERROR_STATUSES = {
    "auth_wechat": ["400", "403", "429", "502", "503"],
    "auth_guest": ["400", "429"],
    "auth_logout": ["401", "403"],
    "me_get": ["401"],
    "me_update": ["400", "401", "403"],
    "user_get": ["401", "404"],
}
NAME = {"type": "string", "maxLength": 32, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"}
AVATAR_INPUT = [
    {"type": "string", "format": "uri", "maxLength": 500},
    {"type": "string", "maxLength": 0},
]


def get_schema(client) -> dict:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.oai.openapi+json"
    return json.loads(response.content)


def test_schema_is_valid_openapi(db, client):
    schema = get_schema(client)
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Huiliao API"


def test_schema_default_format_is_yaml(db, client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.oai.openapi; charset=utf-8"
    assert yaml.safe_load(response.content) == get_schema(client)


def test_schema_lists_accounts_operations(db, client):
    paths = get_schema(client)["paths"]
    listed = {
        (route, method)
        for route, operations in paths.items()
        for method in operations
        if route.startswith(("/api/v1/auth/", "/api/v1/me", "/api/v1/users/"))
    }
    assert listed == set(ACCOUNTS_OPERATIONS)


def test_schema_accounts_operations_have_request_and_response_shapes(db, client):
    paths = get_schema(client)["paths"]
    for (route, method), (operation_id, request, success) in ACCOUNTS_OPERATIONS.items():
        operation = paths[route][method]
        assert operation["operationId"] == operation_id
        assert operation["tags"] == ["accounts"]
        assert operation["description"]
        if request is None:
            assert "requestBody" not in operation
        else:
            assert operation["requestBody"]["content"] == json_body(request)["content"]
        errors = {status: json_body("Error")["content"] for status in ERROR_STATUSES[operation_id]}
        expected = {
            status: (json_body(name)["content"] if name else None)
            for status, name in success.items()
        } | errors
        assert {
            status: response.get("content") for status, response in operation["responses"].items()
        } == expected
        for status in errors:
            assert operation["responses"][status]["description"]


def test_schema_login_needs_no_credentials_and_the_rest_do(db, client):
    paths = get_schema(client)["paths"]
    assert paths["/api/v1/auth/wechat"]["post"]["security"] == [{}]
    assert paths["/api/v1/auth/guest"]["post"]["security"] == [{}]
    for route, method in [
        ("/api/v1/me", "get"),
        ("/api/v1/me", "patch"),
        ("/api/v1/auth/logout", "post"),
    ]:
        assert paths[route][method]["security"] == [{"tokenAuth": []}, {"cookieAuth": []}]


def test_schema_accounts_components(db, client):
    schemas = get_schema(client)["components"]["schemas"]
    # drf-spectacular names the enum after its field, prefixed once another part of the
    # API has a "kind" too: follow the reference rather than guess the name.
    kind_ref = schemas["PublicUser"]["properties"]["kind"]["allOf"][0]["$ref"]
    assert schemas[kind_ref.rsplit("/", 1)[1]]["enum"] == ["wechat", "guest", "staff"]
    kind = {"allOf": [{"$ref": kind_ref}], "readOnly": True}
    assert schemas["Me"]["properties"]["kind"] == kind
    assert schemas["PublicUser"] == {
        "type": "object",
        "properties": {
            "id": {"type": "string", "format": "uuid", "readOnly": True},
            "nickname": {"type": "string", "readOnly": True},
            # "" when none is set, which is no "uri": schemathesis holds us to the schema.
            "avatar_url": {
                "type": "string",
                "readOnly": True,
                "description": "An http(s) URL, or blank when none is set.",
            },
            "kind": kind,
        },
        "required": ["avatar_url", "id", "kind", "nickname"],
    }
    assert schemas["Me"]["properties"].keys() == {
        "id",
        "nickname",
        "avatar_url",
        "kind",
        "is_staff",
        "date_joined",
    }
    assert schemas["Me"]["required"] == [
        "avatar_url",
        "date_joined",
        "id",
        "is_staff",
        "kind",
        "nickname",
    ]
    assert schemas["AuthResult"]["properties"]["user"] == ref("Me")
    assert schemas["AuthResult"]["required"] == ["token", "user"]
    assert schemas["GuestLoginRequest"] == {
        "type": "object",
        "properties": {"nickname": {**NAME, "minLength": 1}},
        "required": ["nickname"],
    }
    assert schemas["WechatLoginRequest"]["required"] == ["code"]
    # A pattern with a blank allowed: drf-spectacular spells the blank out as an alternative.
    assert schemas["WechatLoginRequest"]["properties"]["nickname"] == {
        "oneOf": [{**NAME, "default": ""}, {"type": "string", "maxLength": 0}]
    }
    assert schemas["PatchedMeUpdateRequest"] == {
        "type": "object",
        "properties": {
            "nickname": {**NAME, "minLength": 1},
            "avatar_url": {"description": "Blank clears it.", "oneOf": AVATAR_INPUT},
        },
    }
    assert schemas["Error"]["required"] == ["code", "detail"]
    assert schemas["Error"]["properties"].keys() == {"detail", "code", "errors"}


def test_schema_never_mentions_openid(db, client):
    response = client.get("/api/schema/", {"format": "json"})
    assert "openid" not in response.content.decode().lower()


def test_schema_accounts_views_generate_without_warnings():
    # The accounts URLs alone, so a warning here is ours and not another part's.
    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=[path("api/v1/", include("accounts.urls"))])
    schema = generator.get_schema(request=None, public=True)
    assert not GENERATOR_STATS, "drf-spectacular warned about the accounts views"
    validate_schema(schema)


def test_schema_command_passes_fail_on_warn(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    result = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--fail-on-warn",
            "--validate",
            "--file",
            tmp_path / "s.yaml",
        ],
        cwd=BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "huiliao_site.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr and "Error" not in result.stderr


def test_docs_render_swagger_ui_from_our_own_files_under_the_csp(db, client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    page = response.content.decode()
    assert (
        '<script src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"' in page
    )
    assert "cdn" not in page.lower()
    assert '<script src="/api/docs/?script="' in page  # the bootstrap is a file too
    script = client.get("/api/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()
    assert '"/api/schema/"' in script.content.decode()


def test_admin_shows_login_page(db, client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"
    login = client.get(response["Location"])
    assert login.status_code == 200
    page = login.content.decode()
    assert '<form action="/admin/login/?next=/admin/" method="post" id="login-form">' in page
    assert 'name="username"' in page and 'name="password"' in page


def test_admin_login_lets_staff_in(db, client):
    from tests.factories import StaffFactory

    staff = StaffFactory(username="organiser", is_superuser=True)
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": staff.username, "password": "correct horse battery"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_schema_states_the_one_line_rule_for_names(db, client):
    """Names shown inside other text refuse control characters, and the schema says so."""
    import re

    schemas = get_schema(client)["components"]["schemas"]
    names = {
        "GuestLoginRequest": "nickname",
        "RoomCreateRequest": "name",
        "EnterRequest": "display_name",
    }
    for component, field in names.items():
        pattern = schemas[component]["properties"][field]["pattern"]
        assert pattern == "^[^\\u0000-\\u001f\\u007f-\\u009f]*$", component
        regex = re.compile(pattern)
        assert regex.match("王伟 Ann") and not regex.match("Ann\x1b[2J") and not regex.match("a\nb")


def test_room_name_with_control_characters_is_400(db):
    from tests.factories import UserFactory
    from tests.helpers import api_client_for

    response = api_client_for(UserFactory()).post(
        "/api/v1/rooms", {"name": "Hall\x1b[2J"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "name must not contain control characters.",
        "code": "invalid_name",
    }


def test_schema_states_that_latitude_comes_with_longitude(db, client):
    rule = get_schema(client)["components"]["schemas"]["EnterRequest"]["anyOf"]
    number, absent = {"type": "number"}, {"enum": [None], "nullable": True}
    assert rule == [
        {
            "required": ["latitude", "longitude"],
            "properties": {"latitude": number, "longitude": number},
        },
        {"properties": {"latitude": absent, "longitude": absent}},
    ]
