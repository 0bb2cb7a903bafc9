"""The single error shape: domain errors and DRF's own exceptions become {"detail", "code"}."""

import json

import pytest
from rest_framework import exceptions

from huiliao_site import errors
from huiliao_site.errors import server_error
from tests.helpers import api_client_for

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("exc", "status", "body"),
    [
        (errors.InvalidInput(), 400, {"detail": "Invalid request.", "code": "invalid"}),
        (
            errors.NotAuthenticated(),
            401,
            {
                "detail": "Authentication credentials were not provided.",
                "code": "not_authenticated",
            },
        ),
        (
            errors.PermissionDenied("Banned.", code="banned"),
            403,
            {"detail": "Banned.", "code": "banned"},
        ),
        (
            errors.NotFound("No such room.", code="room_not_found"),
            404,
            {"detail": "No such room.", "code": "room_not_found"},
        ),
        (errors.Gone(), 410, {"detail": "This room is closed.", "code": "room_closed"}),
        (
            errors.UpstreamError(),
            502,
            {"detail": "An upstream service failed.", "code": "upstream_error"},
        ),
        (
            errors.ServiceUnavailable(),
            503,
            {"detail": "Service unavailable.", "code": "unavailable"},
        ),
        (exceptions.NotFound(), 404, {"detail": "Not found.", "code": "not_found"}),
        (
            exceptions.MethodNotAllowed("PUT"),
            405,
            {"detail": 'Method "PUT" not allowed.', "code": "method_not_allowed"},
        ),
        (
            exceptions.ValidationError({"non_field_errors": ["Pick one."]}),
            400,
            {
                "detail": "Pick one.",
                "code": "invalid",
                "errors": {"non_field_errors": ["Pick one."]},
            },
        ),
        (
            exceptions.ValidationError({"geofence": {"radius_m": ["Too big."]}}),
            400,
            {
                "detail": "geofence: radius_m: Too big.",
                "code": "invalid",
                "errors": {"geofence": {"radius_m": ["Too big."]}},
            },
        ),
        (
            exceptions.ValidationError(["Whole body wrong."]),
            400,
            {"detail": "Whole body wrong.", "code": "invalid", "errors": ["Whole body wrong."]},
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)
def test_error_handler_shapes(exc, status, body):
    response = errors.api_exception_handler(exc, {})
    assert response.status_code == status
    assert response.data == body


def test_error_handler_domain_throttle_sets_retry_after():
    response = errors.api_exception_handler(errors.Throttled(wait=7.9), {})
    assert response.status_code == 429
    assert response.data == {"detail": "Too many requests.", "code": "rate_limited"}
    assert response["Retry-After"] == "7"


def test_error_handler_drf_throttle_sets_retry_after():
    response = errors.api_exception_handler(exceptions.Throttled(wait=3), {})
    assert response.status_code == 429
    assert response.data == {
        "detail": "Request was throttled. Expected available in 3 seconds.",
        "code": "throttled",
    }
    assert response["Retry-After"] == "3"


def test_error_handler_leaves_unknown_exceptions_alone():
    assert errors.api_exception_handler(RuntimeError("boom"), {}) is None


# --- URLs no view matches ------------------------------------------------------------------


NOT_FOUND = {"detail": "Not found.", "code": "not_found"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/users/not-a-uuid",
        "/api/v1/rooms/ABCDEFGH/messages/abc",
        "/api/v1/rooms/ABCDEFGH/messages/-1",
        "/api/v1/nothing-here",
    ],
)
def test_api_url_without_a_view_is_json_404(user, path):
    response = api_client_for(user).get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == NOT_FOUND


def test_page_url_without_a_view_is_still_a_page(client):
    response = client.get("/nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_api_server_error_is_json(rf):
    response = server_error(rf.get("/api/v1/me"))
    assert response.status_code == 500
    assert json.loads(response.content) == {"detail": "Server error.", "code": "server_error"}


def test_page_server_error_is_still_a_page(rf):
    response = server_error(rf.get("/r/ABCDEFGH/"))
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
