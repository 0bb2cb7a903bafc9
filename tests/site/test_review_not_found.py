"""URLs no view matches: the API still answers {"detail", "code"}."""

import json

import pytest

from huiliao_site.errors import server_error
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db

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
