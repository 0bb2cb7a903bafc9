"""Inputs that once crashed (500) on PostgreSQL instead of giving a clear error."""

import base64
import datetime as dt
import json

import pytest

from tests.conftest import api_client_for
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db

ROOM_NOT_FOUND = {"detail": "No such room.", "code": "room_not_found"}
BAD_CURSOR = {"detail": "cursor is not one this API gave out.", "code": "invalid_cursor"}


def forged_cursor(moment: str, key: str) -> str:
    raw = json.dumps([moment, key]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/rooms/AB%00CDEF",
        "/api/v1/rooms/AB%00CDEF/announcement",
        "/api/v1/rooms/AB%00CDEF/members",
        "/api/v1/rooms/AB%00CDEF/messages",
        "/api/v1/rooms/AB%00CDEF/messages/info",
        "/api/v1/rooms/AB%00CDEF/messages/1",
        "/api/v1/rooms/AB%00CDEF/qrcode",
        "/api/v1/rooms/AB%00CDEF/qrcode.png",
    ],
)
def test_room_code_with_nul_is_404_not_500(user, postgres, path):
    response = api_client_for(user).get(path)
    assert response.status_code == 404
    assert response.json() == ROOM_NOT_FOUND


@pytest.mark.parametrize("path", ["/api/v1/rooms/AB%00CDEF/enter", "/api/v1/rooms/ROOM%00/leave"])
def test_room_code_with_nul_on_post_is_404(user, postgres, path):
    response = api_client_for(user).post(path, {}, format="json")
    assert response.status_code == 404
    assert response.json() == ROOM_NOT_FOUND


def test_room_code_of_wrong_shape_is_404(user):
    response = api_client_for(user).get("/api/v1/rooms/" + "A" * 500)
    assert response.status_code == 404
    assert response.json() == ROOM_NOT_FOUND


def test_room_code_lowercase_still_finds_the_room(user):
    room = RoomFactory(owner=user)
    response = api_client_for(user).get(f"/api/v1/rooms/{room.code.lower()}")
    assert response.status_code == 200
    assert response.json()["code"] == room.code


def test_room_page_code_with_nul_is_404(client, postgres):
    response = client.get("/r/AB%00CDEF/")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        ("/api/v1/rooms", forged_cursor("2026-01-01T00:00:00+00:00", "AB\x00")),
        ("/api/v1/rooms", forged_cursor("9999-12-31T23:59:59-23:00", "ABCDEFGH")),
        ("/api/v1/rooms", forged_cursor("0001-01-01T00:00:00+14:00", "ABCDEFGH")),
        (
            "/api/v1/rooms/{code}/members",
            forged_cursor("9999-12-31T23:59:59-23:00", "6f1c1f3e-5a4b-4c2d-9e8f-0a1b2c3d4e5f"),
        ),
    ],
)
def test_forged_cursor_is_400_not_500(user, postgres, path, cursor):
    room = RoomFactory(owner=user)
    response = api_client_for(user).get(path.format(code=room.code), {"cursor": cursor})
    assert response.status_code == 400
    assert response.json() == BAD_CURSOR


def test_cursor_with_other_utc_offset_still_pages(user):
    rooms = [RoomFactory(owner=user) for _ in range(3)]
    client = api_client_for(user)
    first = client.get("/api/v1/rooms", {"limit": 1}).json()
    moment, key = json.loads(base64.urlsafe_b64decode(first["next"] + "=="))
    # The same instant written with a +08:00 offset pages on from the same room.
    shifted = dt.datetime.fromisoformat(moment).astimezone(dt.timezone(dt.timedelta(hours=8)))
    response = client.get(
        "/api/v1/rooms", {"limit": 5, "cursor": forged_cursor(shifted.isoformat(), key)}
    )
    assert response.status_code == 200
    assert [r["code"] for r in response.json()["results"]] == [rooms[1].code, rooms[0].code]
