"""Requests a hostile client sends to the API: every one gets the API's own error shape,
never a 500 or Django's HTML page."""

import pytest
from django.contrib import admin
from rest_framework.authtoken.models import Token, TokenProxy

from tests.helpers import api_client_for, throttle_rates


@pytest.mark.django_db
def test_deeply_nested_json_is_400_even_for_anonymous_guest_login(client):
    response = client.post("/api/v1/auth/guest", "[" * 5000, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "JSON parse error - nested too deeply.",
        "code": "parse_error",
    }


@pytest.mark.django_db
def test_lone_surrogate_in_a_string_field_is_400(member, room):
    response = api_client_for(member).post(
        f"/api/v1/rooms/{room.code}/messages",
        data='{"body": "x\\ud800", "client_id": "c1"}',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "body: Not valid Unicode text."
    assert response.json()["code"] == "invalid_body"


@pytest.mark.django_db
def test_oversized_body_is_413_in_the_api_shape(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"nickname": "' + "x" * 2000 + '"}'
    response = client.post("/api/v1/auth/guest", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request body is too large.",
        "code": "request_too_large",
    }


def test_no_token_admin_lists_keys():
    assert not admin.site.is_registered(Token)
    assert not admin.site.is_registered(TokenProxy)


@pytest.mark.django_db
def test_user_admin_refuses_openid_lookups(admin_client):
    # Django answers a disallowed lookup with 400 (DisallowedModelAdminLookup); before,
    # ?openid= was a local field and allowed, so the list confirmed who someone was.
    assert admin_client.get("/admin/accounts/user/?openid=oSomeone").status_code == 400
    assert admin_client.get("/admin/accounts/user/?openid__startswith=o").status_code == 400
    assert admin_client.get("/admin/accounts/user/?kind=guest").status_code == 200


@pytest.mark.django_db
def test_announcement_writes_are_throttled_reads_are_not(room, user, settings):
    throttle_rates(settings, announcement="3/min")
    owner = api_client_for(user)
    url = f"/api/v1/rooms/{room.code}/announcement"
    statuses = [owner.put(url, {"text": f"v{n}"}, format="json").status_code for n in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = owner.put(url, {"text": "again"}, format="json")
    assert refused.json()["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0
    assert owner.get(url).json()["text"] == "v2"
