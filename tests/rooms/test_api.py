"""REST API for rooms: create, list, nearby, info, close, announcement, members."""

import base64
import datetime as dt
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.utils import timezone

from history.models import Message
from rooms import geo
from rooms.models import CODE_ALPHABET, Membership, Room
from rooms.protocol import iso_datetime as iso
from rooms.services import Geofence
from tests.factories import (
    RoomFactory,
    StaffFactory,
    UserFactory,
    WechatUserFactory,
    join,
    member,
    post,
)
from tests.helpers import api_client_for, throttle_rates

pytestmark = pytest.mark.django_db

VENUE = {"latitude": 31.2304, "longitude": 121.4737, "radius_m": 200}


def owner_in_room(room: Room) -> dict:
    """The owner as the room shows them: room display name, member_id, preset, role."""
    name = Membership.objects.get(room=room, user=room.owner).display_name
    return {"display_name": name, **member(room.pk, room.owner_id)}


def my_preset(room: Room, user) -> dict:
    mine = member(room.pk, user.pk)
    return {
        "my_member_id": mine["member_id"],
        "my_avatar": mine["avatar"],
        "my_avatar_url": mine["avatar_url"],
    }


def summary(room: Room, *, member_count: int, show_venue: bool = True) -> dict:
    room.refresh_from_db()
    return {
        "code": room.code,
        "name": room.name,
        "owner": owner_in_room(room),
        "status": room.status,
        "created_at": iso(room.created_at),
        "expires_at": iso(room.expires_at),
        "closed_at": iso(room.closed_at),
        "geofence": (
            {
                "latitude": room.latitude if show_venue else None,
                "longitude": room.longitude if show_venue else None,
                "radius_m": room.radius_m,
            }
            if room.has_geofence
            else None
        ),
        "member_count": member_count,
        "last_seq": room.last_seq,
    }


def offset_north(latitude: float, metres: float) -> float:
    """The latitude `metres` due north (a meridian arc, exact enough for metres)."""
    return latitude + metres / geo.EARTH_RADIUS_M * 180 / 3.141592653589793


# --- create -------------------------------------------------------------------------------


def test_room_create_returns_detail_with_owner_as_member(user):
    expires = timezone.now() + dt.timedelta(days=2)
    response = api_client_for(user).post(
        "/api/v1/rooms",
        {"name": "  PyCon China  ", "expires_at": iso(expires), "geofence": VENUE},
        format="json",
    )
    assert response.status_code == 201
    room = Room.objects.get()
    assert response.json() == {
        **summary(room, member_count=1),
        "is_member": True,
        "my_role": "owner",
        "my_display_name": user.nickname,
        **my_preset(room, user),
        "can_manage": True,
        "can_moderate": True,
        "my_muted_until": None,
        "slow_mode_seconds": 0,
        "posting": "everyone",
        "announcement": {"text": "", "updated_at": None},
    }
    assert room.name == "PyCon China"
    assert len(room.code) == 8 and set(room.code) <= set(CODE_ALPHABET)


def test_room_create_by_staff_without_expiry_or_geofence_is_open_forever():
    staff = StaffFactory()
    response = api_client_for(staff).post("/api/v1/rooms", {"name": "Hall"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["expires_at"], body["geofence"], body["status"]) == (None, None, "open")


@pytest.mark.parametrize("sent", [{}, {"expires_at": None}])
def test_room_create_by_non_staff_without_expiry_expires_after_default_hours(user, settings, sent):
    settings.HUILIAO_DEFAULT_ROOM_HOURS = 6
    before = timezone.now()
    response = api_client_for(user).post("/api/v1/rooms", {"name": "Hall", **sent}, format="json")
    assert response.status_code == 201
    expires = Room.objects.get(code=response.json()["code"]).expires_at
    assert before + dt.timedelta(hours=6) <= expires <= timezone.now() + dt.timedelta(hours=6)
    assert response.json()["expires_at"] == iso(expires)


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        ({"name": ""}, "name: This field may not be blank."),
        ({"name": "   "}, "name: This field may not be blank."),
        ({"name": "x" * 65}, "name: Ensure this field has no more than 64 characters."),
        ({}, "name: This field is required."),
        (
            {"name": "ok", "geofence": {**VENUE, "latitude": 90.0001}},
            "geofence: latitude: Ensure this value is less than or equal to 90.",
        ),
        (
            {"name": "ok", "geofence": {**VENUE, "latitude": -90.0001}},
            "geofence: latitude: Ensure this value is greater than or equal to -90.",
        ),
        (
            {"name": "ok", "geofence": {**VENUE, "longitude": 180.5}},
            "geofence: longitude: Ensure this value is less than or equal to 180.",
        ),
        (
            {"name": "ok", "geofence": {**VENUE, "longitude": -180.5}},
            "geofence: longitude: Ensure this value is greater than or equal to -180.",
        ),
        (
            {"name": "ok", "geofence": {**VENUE, "radius_m": 49}},
            "geofence: radius_m: Ensure this value is greater than or equal to 50.",
        ),
        (
            {"name": "ok", "geofence": {**VENUE, "radius_m": 50_001}},
            "geofence: radius_m: Ensure this value is less than or equal to 50000.",
        ),
        (
            {"name": "ok", "geofence": {"latitude": 1, "longitude": 2}},
            "geofence: radius_m: This field is required.",
        ),
    ],
)
def test_room_create_invalid_input_is_400(user, payload, detail):
    response = api_client_for(user).post("/api/v1/rooms", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    code = "invalid_name" if detail.startswith("name:") else "invalid"
    assert (body["detail"], body["code"]) == (detail, code)
    assert not Room.objects.exists()


def test_room_create_bounds_are_inclusive(user):
    client = api_client_for(user)
    for fence in (
        {"latitude": 90, "longitude": 180, "radius_m": 50},
        {"latitude": -90, "longitude": -180, "radius_m": 50_000},
    ):
        response = client.post(
            "/api/v1/rooms", {"name": "x" * 64, "geofence": fence}, format="json"
        )
        assert response.status_code == 201, response.json()
        assert response.json()["geofence"] == {
            "latitude": float(fence["latitude"]),
            "longitude": float(fence["longitude"]),
            "radius_m": fence["radius_m"],
        }


def test_room_create_expiry_in_the_past_is_400(user):
    past = timezone.now() - dt.timedelta(seconds=1)
    response = api_client_for(user).post(
        "/api/v1/rooms", {"name": "Hall", "expires_at": iso(past)}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "expires_at: Must be in the future.",
        "code": "invalid",
        "errors": {"expires_at": ["Must be in the future."]},
    }


def test_room_create_expiry_beyond_max_days_is_400(user, settings):
    settings.HUILIAO_MAX_ROOM_DAYS = 3
    client = api_client_for(user)
    too_far = timezone.now() + dt.timedelta(days=3, minutes=1)
    response = client.post(
        "/api/v1/rooms", {"name": "Hall", "expires_at": iso(too_far)}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "expires_at: Must be at most 3 days away."
    just_in = timezone.now() + dt.timedelta(days=3, minutes=-1)
    response = client.post(
        "/api/v1/rooms", {"name": "Hall", "expires_at": iso(just_in)}, format="json"
    )
    assert response.status_code == 201


def test_room_create_non_finite_coordinate_is_400(user):
    response = api_client_for(user).post(
        "/api/v1/rooms",
        {"name": "Hall", "geofence": {**VENUE, "latitude": "NaN"}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "geofence: latitude: A valid number is required."
    assert response.json()["code"] == "invalid"


def test_room_create_throttled_per_user_is_429(user, other_user, settings):
    throttle_rates(settings, room_create="2/hour")
    client = api_client_for(user)
    responses = [client.post("/api/v1/rooms", {"name": "Hall"}, format="json") for _ in range(3)]
    assert [r.status_code for r in responses] == [201, 201, 429]
    assert responses[2].json()["code"] == "throttled"
    assert 0 < int(responses[2].headers["Retry-After"]) <= 3600
    # Listing is not creating: never throttled. And the budget is per user.
    assert client.get("/api/v1/rooms").status_code == 200
    other = api_client_for(other_user).post("/api/v1/rooms", {"name": "Hall"}, format="json")
    assert other.status_code == 201


def test_room_create_anonymous_is_401(api):
    response = api.post("/api/v1/rooms", {"name": "Hall"}, format="json")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }


# --- list ---------------------------------------------------------------------------------


def test_room_list_by_role_each_with_my_role(user):
    mine = RoomFactory(owner=user, name="Mine")
    entered = RoomFactory(name="Entered")
    join(entered, user)
    moderated = RoomFactory(name="Moderated")
    Membership.objects.filter(pk=join(moderated, user).pk).update(role="moderator")
    RoomFactory(name="Not mine")
    left = RoomFactory(name="Left")
    join(left, user)
    from history.services import member_leave

    member_leave(room=left, user=user)

    client = api_client_for(user)
    everything = client.get("/api/v1/rooms").json()
    assert everything == {
        "results": [
            {**summary(moderated, member_count=2), "my_role": "moderator"},
            {**summary(entered, member_count=2), "my_role": "member"},
            {**summary(mine, member_count=1), "my_role": "owner"},
        ],
        "next": None,
    }
    assert client.get("/api/v1/rooms", {"role": "owner"}).json()["results"] == [
        everything["results"][2]
    ]
    assert (
        client.get("/api/v1/rooms", {"role": "member"}).json()["results"]
        == everything["results"][:2]
    )


def test_room_list_owner_who_left_still_sees_owned_room(user):
    room = RoomFactory(owner=user)
    from history.services import member_leave

    member_leave(room=room, user=user)
    body = api_client_for(user).get("/api/v1/rooms", {"role": "owner"}).json()
    assert body["results"] == [{**summary(room, member_count=0), "my_role": "owner"}]


def test_room_list_invalid_role_is_400(user):
    response = api_client_for(user).get("/api/v1/rooms", {"role": "admin"})
    assert response.status_code == 400
    assert response.json()["detail"] == 'role: "admin" is not a valid choice.'
    assert response.json()["code"] == "invalid"


def test_room_list_pages_by_cursor(user):
    rooms = [RoomFactory(owner=user, name=f"R{i}") for i in range(5)]
    client = api_client_for(user)
    first = client.get("/api/v1/rooms", {"limit": 2}).json()
    assert [r["name"] for r in first["results"]] == ["R4", "R3"]
    second = client.get("/api/v1/rooms", {"limit": 2, "cursor": first["next"]}).json()
    assert [r["name"] for r in second["results"]] == ["R2", "R1"]
    third = client.get("/api/v1/rooms", {"limit": 2, "cursor": second["next"]}).json()
    assert [r["name"] for r in third["results"]] == ["R0"]
    assert third["next"] is None
    assert len(rooms) == 5


def test_room_list_bad_cursor_or_limit_is_400(user):
    client = api_client_for(user)
    response = client.get("/api/v1/rooms", {"cursor": "not-a-cursor"})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "cursor is not one this API gave out.",
        "code": "invalid_cursor",
    }
    for limit, detail in (
        (0, "limit: Ensure this value is greater than or equal to 1."),
        (101, "limit: Ensure this value is less than or equal to 100."),
    ):
        response = client.get("/api/v1/rooms", {"limit": limit})
        assert (response.status_code, response.json()["detail"]) == (400, detail)


@pytest.mark.parametrize("items", [1, 3])
def test_room_list_queries_do_not_grow(user, items, django_assert_num_queries):
    for _ in range(items):
        join(RoomFactory(), user)
        join(RoomFactory(owner=user))
    client = api_client_for(user)
    # token + user, the rooms page (owner, my role and member count in one query)
    with django_assert_num_queries(2):
        body = client.get("/api/v1/rooms").json()
    assert len(body["results"]) == 2 * items


# --- nearby -------------------------------------------------------------------------------


@pytest.fixture
def venue_rooms(db):
    from rooms.services import Geofence

    inside = RoomFactory(name="Inside", geofence=Geofence(**VENUE))
    bigger = RoomFactory(
        name="Bigger", geofence=Geofence(latitude=31.2404, longitude=121.4737, radius_m=2000)
    )
    RoomFactory(name="Elsewhere", geofence=Geofence(latitude=39.9, longitude=116.4, radius_m=500))
    RoomFactory(name="No fence")
    closed = RoomFactory(name="Closed", geofence=Geofence(**VENUE))
    from rooms.services import room_close

    room_close(room=closed, actor=None)
    expired = RoomFactory(name="Expired", geofence=Geofence(**VENUE))
    Room.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    return inside, bigger


def nearby(room: Room, *, member_count: int) -> dict:
    """A nearby room: how far, never where."""
    return {
        "code": room.code,
        "name": room.name,
        "expires_at": iso(room.expires_at),
        "member_count": member_count,
    }


def test_room_nearby_only_open_rooms_holding_the_point_nearest_first(user, venue_rooms):
    inside, bigger = venue_rooms
    response = api_client_for(user).get(
        "/api/v1/rooms/nearby", {"latitude": VENUE["latitude"], "longitude": VENUE["longitude"]}
    )
    assert response.status_code == 200
    bigger_distance = round(
        geo.distance_m(VENUE["latitude"], VENUE["longitude"], 31.2404, 121.4737), -1
    )
    assert response.json() == {
        "results": [
            {**nearby(inside, member_count=1), "distance_m": 0},
            {**nearby(bigger, member_count=1), "distance_m": bigger_distance},
        ]
    }


def test_room_nearby_radius_edge_by_a_few_metres(user):
    from rooms.services import Geofence

    room = RoomFactory(name="Edge", geofence=Geofence(**VENUE))
    client = api_client_for(user)
    inside = offset_north(VENUE["latitude"], 197)
    outside = offset_north(VENUE["latitude"], 203)
    found = client.get(
        "/api/v1/rooms/nearby", {"latitude": inside, "longitude": VENUE["longitude"]}
    )
    assert [r["code"] for r in found.json()["results"]] == [room.code]
    assert found.json()["results"][0]["distance_m"] == 200  # rounded to 10 m
    missed = client.get(
        "/api/v1/rooms/nearby", {"latitude": outside, "longitude": VENUE["longitude"]}
    )
    assert missed.json() == {"results": []}


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"longitude": 1}, "latitude: This field is required."),
        (
            {"latitude": 91, "longitude": 1},
            "latitude: Ensure this value is less than or equal to 90.",
        ),
        (
            {"latitude": 1, "longitude": -181},
            "longitude: Ensure this value is greater than or equal to -180.",
        ),
        ({"latitude": "nan", "longitude": 1}, "latitude: A valid number is required."),
        ({"latitude": "north", "longitude": 1}, "latitude: A valid number is required."),
    ],
)
def test_room_nearby_invalid_point_is_400(user, params, detail):
    response = api_client_for(user).get("/api/v1/rooms/nearby", params)
    assert response.status_code == 400
    assert (response.json()["detail"], response.json()["code"]) == (detail, "invalid")


@pytest.mark.parametrize("items", [1, 3])
def test_room_nearby_queries_do_not_grow(user, items, django_assert_num_queries):
    from rooms.services import Geofence

    for _ in range(items):
        join(RoomFactory(geofence=Geofence(**VENUE)))
    client = api_client_for(user)
    with django_assert_num_queries(2):
        body = client.get(
            "/api/v1/rooms/nearby", {"latitude": VENUE["latitude"], "longitude": VENUE["longitude"]}
        ).json()
    assert [r["member_count"] for r in body["results"]] == [2] * items


# --- info ---------------------------------------------------------------------------------


def test_room_info_for_non_member_hides_announcement(room, other_user):
    from rooms.services import announcement_set

    announcement_set(room=room, text="Lunch at noon", actor=None)
    response = api_client_for(other_user).get(f"/api/v1/rooms/{room.code.lower()}")
    assert response.status_code == 200
    assert response.json() == {
        **summary(room, member_count=1),
        "is_member": False,
        "my_member_id": None,
        "my_role": None,
        "my_display_name": None,
        "my_avatar": None,
        "my_avatar_url": None,
        "can_manage": False,
        "can_moderate": False,
        "my_muted_until": None,
        "slow_mode_seconds": 0,
        "posting": "everyone",
        "announcement": None,
    }


def test_room_info_for_member_shows_role_name_and_announcement(room):
    from rooms.services import announcement_set

    membership = join(room, display_name="Ann")
    announcement_set(room=room, text="Lunch at noon", actor=None)
    room.refresh_from_db()
    response = api_client_for(membership.user).get(f"/api/v1/rooms/{room.code}")
    assert response.json() == {
        **summary(room, member_count=2),
        "is_member": True,
        "my_role": "member",
        "my_display_name": "Ann",
        **my_preset(room, membership.user),
        "can_manage": False,
        "can_moderate": False,
        "my_muted_until": None,
        "slow_mode_seconds": 0,
        "posting": "everyone",
        "announcement": {"text": "Lunch at noon", "updated_at": iso(room.announcement_updated_at)},
    }


def test_room_info_owner_profile_never_shows_openid():
    owner = WechatUserFactory(nickname="Organiser")
    room = RoomFactory(owner=owner)
    response = api_client_for(UserFactory()).get(f"/api/v1/rooms/{room.code}")
    assert response.json()["owner"] == owner_in_room(room)
    assert str(owner.pk) not in response.content.decode()
    assert owner.openid not in response.content.decode()


def test_room_info_status_expired_and_closed(room, member):
    client = api_client_for(member)
    Room.objects.filter(pk=room.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert client.get(f"/api/v1/rooms/{room.code}").json()["status"] == "expired"
    Room.objects.filter(pk=room.pk).update(closed_at=timezone.now())
    body = client.get(f"/api/v1/rooms/{room.code}").json()
    assert body["status"] == "closed"
    assert body["is_member"] is True


def test_room_info_banned_member_is_not_a_member(room):
    from rooms.services import membership_set_banned

    membership = join(room)
    membership_set_banned(membership=membership, banned=True, actor=None)
    body = api_client_for(membership.user).get(f"/api/v1/rooms/{room.code}").json()
    assert (body["is_member"], body["my_role"], body["announcement"]) == (False, None, None)


def test_room_info_unknown_code_is_404(user):
    response = api_client_for(user).get("/api/v1/rooms/ZZZZZZZZ")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such room.", "code": "room_not_found"}


# --- close --------------------------------------------------------------------------------


def test_room_close_by_owner_is_204_and_idempotent(room, user):
    client = api_client_for(user)
    response = client.delete(f"/api/v1/rooms/{room.code}")
    assert (response.status_code, response.content) == (204, b"")
    room.refresh_from_db()
    assert room.status == "closed"
    closed_at = room.closed_at
    assert client.delete(f"/api/v1/rooms/{room.code}").status_code == 204
    room.refresh_from_db()
    assert room.closed_at == closed_at


def test_room_close_by_member_or_moderator_is_403(room):
    moderator = join(room)
    Membership.objects.filter(pk=moderator.pk).update(role="moderator")
    for user in (join(room).user, moderator.user, UserFactory()):
        response = api_client_for(user).delete(f"/api/v1/rooms/{room.code}")
        assert response.status_code == 403
        assert response.json() == {
            "detail": "Only the room's owner can close it.",
            "code": "not_owner",
        }
    room.refresh_from_db()
    assert room.closed_at is None


def test_room_close_by_plain_staff_is_403_superuser_is_204(room):
    staff = StaffFactory()
    refused = api_client_for(staff).delete(f"/api/v1/rooms/{room.code}")
    assert (refused.status_code, refused.json()["code"]) == (403, "not_owner")
    superuser = StaffFactory(is_superuser=True)
    assert api_client_for(superuser).delete(f"/api/v1/rooms/{room.code}").status_code == 204
    room.refresh_from_db()
    assert room.status == "closed"


def test_room_close_unknown_is_404_anonymous_is_401(user, api):
    unknown = api_client_for(user).delete("/api/v1/rooms/ZZZZZZZZ")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "room_not_found")
    room = RoomFactory(owner=user)
    anonymous = api.delete(f"/api/v1/rooms/{room.code}")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")


# --- announcement -------------------------------------------------------------------------


def test_announcement_get_for_member(room):
    membership = join(room)
    response = api_client_for(membership.user).get(f"/api/v1/rooms/{room.code}/announcement")
    assert response.json() == {"text": "", "updated_at": None}


def test_announcement_get_for_non_member_is_403(room, other_user):
    response = api_client_for(other_user).get(f"/api/v1/rooms/{room.code}/announcement")
    assert response.status_code == 403
    assert response.json() == {"detail": "Enter the room first.", "code": "not_member"}


def test_announcement_set_by_owner_and_moderator(room, user):
    response = api_client_for(user).put(
        f"/api/v1/rooms/{room.code}/announcement", {"text": "  Keynote at 9  "}, format="json"
    )
    room.refresh_from_db()
    assert response.status_code == 200
    assert response.json() == {
        "text": "Keynote at 9",
        "updated_at": iso(room.announcement_updated_at),
    }
    moderator = join(room)
    Membership.objects.filter(pk=moderator.pk).update(role="moderator")
    response = api_client_for(moderator.user).put(
        f"/api/v1/rooms/{room.code}/announcement", {"text": "x" * 2000}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["text"] == "x" * 2000


def test_announcement_set_by_member_or_staff_is_403(room):
    for user in (join(room).user, StaffFactory()):
        response = api_client_for(user).put(
            f"/api/v1/rooms/{room.code}/announcement", {"text": "hi"}, format="json"
        )
        assert response.status_code == 403
        assert response.json() == {
            "detail": "Only the owner or a moderator can do this.",
            "code": "not_moderator",
        }


def test_announcement_set_too_long_is_400(room, user):
    response = api_client_for(user).put(
        f"/api/v1/rooms/{room.code}/announcement", {"text": "x" * 2001}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "text: Ensure this field has no more than 2000 characters.",
        "code": "invalid_announcement",
        "errors": {"text": ["Ensure this field has no more than 2000 characters."]},
    }


def test_announcement_set_on_closed_room_is_410(room, user):
    from rooms.services import room_close

    room_close(room=room, actor=None)
    response = api_client_for(user).put(
        f"/api/v1/rooms/{room.code}/announcement", {"text": "hi"}, format="json"
    )
    assert response.status_code == 410
    assert response.json() == {"detail": "This room has been closed.", "code": "room_closed"}


# --- members ------------------------------------------------------------------------------


def test_members_list_shows_only_name_avatar_role(room, user):
    ann = join(room, UserFactory(avatar_url="https://img.example/a.png"), display_name="Ann")
    gone = join(room)
    from history.services import member_leave

    member_leave(room=room, user=gone.user)
    response = api_client_for(ann.user).get(f"/api/v1/rooms/{room.code}/members")
    assert response.json() == {
        "count": 2,
        "results": [
            {"display_name": user.nickname, **member(room.pk, user.pk)},
            {"display_name": "Ann", **member(room.pk, ann.user_id)},
        ],
        "next": None,
    }


def test_members_list_pages_by_keyset(room):
    for i in range(4):
        join(room, display_name=f"M{i}")
    client = api_client_for(room.owner)
    seen = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get(f"/api/v1/rooms/{room.code}/members", params).json()
        assert body["count"] == 5
        seen += [m["display_name"] for m in body["results"]]
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == [room.owner.nickname, "M0", "M1", "M2", "M3"]


def test_members_list_for_non_member_or_banned_is_403(room, other_user):
    from rooms.services import membership_set_banned

    response = api_client_for(other_user).get(f"/api/v1/rooms/{room.code}/members")
    assert (response.status_code, response.json()["code"]) == (403, "not_member")
    banned = join(room)
    membership_set_banned(membership=banned, banned=True, actor=None)
    response = api_client_for(banned.user).get(f"/api/v1/rooms/{room.code}/members")
    assert response.status_code == 403
    assert response.json() == {"detail": "You have been removed from this room.", "code": "banned"}


def test_members_list_superuser_reads_without_joining(room):
    superuser = StaffFactory(is_superuser=True)
    response = api_client_for(superuser).get(f"/api/v1/rooms/{room.code}/members")
    assert response.status_code == 200
    assert response.json()["count"] == 1


@pytest.mark.parametrize("items", [1, 3])
def test_members_list_queries_do_not_grow(room, user, items, django_assert_num_queries):
    for _ in range(items - 1):
        join(room)
    client = api_client_for(user)
    # token + user, the room, the count, the page (the owner needs no membership read)
    with django_assert_num_queries(4):
        body = client.get(f"/api/v1/rooms/{room.code}/members").json()
    assert len(body["results"]) == items


def test_owner_of_another_room_has_no_power_here(room):
    other_owner = RoomFactory().owner
    client = api_client_for(other_owner)
    assert client.delete(f"/api/v1/rooms/{room.code}").json()["code"] == "not_owner"
    response = client.put(f"/api/v1/rooms/{room.code}/announcement", {"text": "x"}, format="json")
    assert response.json()["code"] == "not_moderator"
    assert client.get(f"/api/v1/rooms/{room.code}/members").json()["code"] == "not_member"
    assert client.get(f"/api/v1/rooms/{room.code}").json()["can_manage"] is False
    room.refresh_from_db()
    assert (room.status, room.announcement) == ("open", "")


def test_announcement_set_on_expired_room_is_410(room, user):
    Room.objects.filter(pk=room.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = api_client_for(user).put(
        f"/api/v1/rooms/{room.code}/announcement", {"text": "hi"}, format="json"
    )
    assert response.status_code == 410
    assert response.json() == {"detail": "This room has expired.", "code": "room_closed"}


def test_members_list_forged_cursor_is_400(room, user):
    from huiliao_site.api import encode_cursor

    forged = encode_cursor(timezone.now(), "m1")[:-3] + "%%%"
    response = api_client_for(user).get(f"/api/v1/rooms/{room.code}/members", {"cursor": forged})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "cursor is not one this API gave out.",
        "code": "invalid_cursor",
    }


# --- inputs that once crashed on PostgreSQL ------------------------------------------------


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


# --- the seed's shortfalls, each fixed -----------------------------------------------------


WIDE_VENUE = Geofence(latitude=31.2304, longitude=121.4737, radius_m=500)


def all_endpoints(code: str) -> list[tuple[str, str, dict | None]]:
    base = f"/api/v1/rooms/{code}"
    return [
        ("get", base, None),
        ("delete", base, None),
        ("get", f"{base}/announcement", None),
        ("put", f"{base}/announcement", {"text": "x"}),
        ("post", f"{base}/enter", {}),
        ("post", f"{base}/leave", {}),
        ("get", f"{base}/members", None),
        ("get", f"{base}/messages", None),
        ("post", f"{base}/messages", {"body": "x", "client_id": "c"}),
        ("get", f"{base}/messages/info", None),
        ("get", f"{base}/messages/1", None),
    ]


def call(client, method: str, url: str, data):
    if data is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, data, format="json")


def keys_of(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_of(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_of(v)}
    return set()


# 1. Sequential, guessable, non-atomic ids --------------------------------------------------


def test_shortfall_1_room_codes_are_random_and_no_database_id_is_shown(user):
    client = api_client_for(user)
    codes = [
        client.post("/api/v1/rooms", {"name": f"R{i}"}, format="json").json()["code"]
        for i in range(20)
    ]
    assert len(set(codes)) == 20
    assert all(len(code) == 8 and set(code) <= set(CODE_ALPHABET) for code in codes)
    assert codes != sorted(codes) and codes != sorted(codes, reverse=True)
    room = Room.objects.get(code=codes[0])
    post(room, user, "hi")
    responses = [
        client.get(f"/api/v1/rooms/{room.code}").json(),
        client.get("/api/v1/rooms").json(),
        client.get(f"/api/v1/rooms/{room.code}/members").json(),
        client.get(f"/api/v1/rooms/{room.code}/messages").json(),
    ]
    # No database id and no account id anywhere: people are their member_id in the room.
    assert {"id", "room_id", "user_id"}.isdisjoint(keys_of(responses))
    assert str(user.pk) not in str(responses)
    mine = Membership.objects.get(room=room, user=user).member_id
    assert responses[3]["results"][0]["sender"]["member_id"] == mine


# 2. No authentication; anyone destroys any room; posting without entering ----------------


def test_shortfall_2_every_endpoint_needs_credentials(room, api):
    for method, url, data in [*all_endpoints(room.code), ("get", "/api/v1/rooms", None)]:
        response = call(api, method, url, data)
        assert response.status_code == 401, (method, url)
        assert response.json()["code"] == "not_authenticated"
    room.refresh_from_db()
    assert room.closed_at is None


def test_shortfall_2_another_user_cannot_destroy_a_room(room):
    member = join(room).user
    for user in (member, UserFactory()):
        refused = api_client_for(user).delete(f"/api/v1/rooms/{room.code}")
        assert (refused.status_code, refused.json()["code"]) == (403, "not_owner")
    room.refresh_from_db()
    assert room.status == "open"


def test_shortfall_2_cannot_post_to_a_room_not_entered_or_as_someone_else(room, other_user):
    client = api_client_for(other_user)
    refused = client.post(
        f"/api/v1/rooms/{room.code}/messages", {"body": "x", "client_id": "c"}, format="json"
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "not_member")
    join(room, other_user)
    # A sender named in the body is ignored: the sender is whoever the token says.
    response = client.post(
        f"/api/v1/rooms/{room.code}/messages",
        {
            "body": "x",
            "client_id": "c",
            "sender": str(room.owner_id),
            "user_id": str(room.owner_id),
        },
        format="json",
    )
    mine = Membership.objects.get(room=room, user=other_user).member_id
    assert response.json()["sender"]["member_id"] == mine


# 3. The GPS restriction never worked --------------------------------------------------------


def test_shortfall_3_geofence_is_a_real_distance_not_degrees(other_user):
    room = RoomFactory(geofence=WIDE_VENUE)
    client = api_client_for(other_user)
    # Half a degree away (~55 km) passed the original's ±30-degree test.
    far = client.post(
        f"/api/v1/rooms/{room.code}/enter",
        {"latitude": WIDE_VENUE.latitude + 0.5, "longitude": WIDE_VENUE.longitude},
        format="json",
    )
    assert (far.status_code, far.json()["code"]) == (403, "outside_geofence")
    # And the flag is not inverted: inside the fence is let in.
    near = client.post(
        f"/api/v1/rooms/{room.code}/enter",
        {"latitude": WIDE_VENUE.latitude + 0.004, "longitude": WIDE_VENUE.longitude},
        format="json",
    )
    assert (near.status_code, near.json()["is_member"]) == (200, True)


def test_shortfall_3_missing_location_gets_a_retryable_answer(other_user):
    room = RoomFactory(geofence=WIDE_VENUE)
    response = api_client_for(other_user).post(
        f"/api/v1/rooms/{room.code}/enter", {}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "location_required")
    retry = api_client_for(other_user).post(
        f"/api/v1/rooms/{room.code}/enter",
        {"latitude": WIDE_VENUE.latitude, "longitude": WIDE_VENUE.longitude},
        format="json",
    )
    assert retry.status_code == 200


# 4. Expiry stored but never enforced -------------------------------------------------------


def test_shortfall_4_expiry_enforced_without_any_command(room, other_user):
    member = join(room).user
    post(room, member, "before the end")
    Room.objects.filter(pk=room.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    entering = api_client_for(other_user).post(
        f"/api/v1/rooms/{room.code}/enter", {}, format="json"
    )
    assert (entering.status_code, entering.json()["code"]) == (410, "room_closed")
    posting = api_client_for(member).post(
        f"/api/v1/rooms/{room.code}/messages", {"body": "x", "client_id": "late"}, format="json"
    )
    assert (posting.status_code, posting.json()["code"]) == (410, "room_closed")
    client = api_client_for(member)
    assert client.get(f"/api/v1/rooms/{room.code}").json()["status"] == "expired"
    history = client.get(f"/api/v1/rooms/{room.code}/messages").json()
    assert [m["body"] for m in history["results"]][-1] == "before the end"


def test_shortfall_4_expired_room_is_not_discovered_nearby(user):
    room = RoomFactory(geofence=WIDE_VENUE)
    params = {"latitude": WIDE_VENUE.latitude, "longitude": WIDE_VENUE.longitude}
    client = api_client_for(user)
    assert [r["code"] for r in client.get("/api/v1/rooms/nearby", params).json()["results"]] == [
        room.code
    ]
    Room.objects.filter(pk=room.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert client.get("/api/v1/rooms/nearby", params).json() == {"results": []}


# 5. Best-effort push with empty `count` events ---------------------------------------------


def test_shortfall_5_missed_messages_are_caught_up_by_seq_exactly_once(room):
    reader = join(room)
    writer = join(room)
    client = api_client_for(reader.user)
    last_seen = client.get(f"/api/v1/rooms/{room.code}/messages").json()["results"][-1]["seq"]
    # The reader is offline while three messages arrive.
    for i in range(3):
        post(room, writer.user, f"missed {i}")
    caught = client.get(f"/api/v1/rooms/{room.code}/messages", {"after": last_seen}).json()
    # One request brings the full records (no count, then range, then one by one).
    assert [m["body"] for m in caught["results"]] == ["missed 0", "missed 1", "missed 2"]
    assert caught["has_more"] is False
    assert all(m["sender"]["display_name"] == writer.display_name for m in caught["results"])
    again = client.get(
        f"/api/v1/rooms/{room.code}/messages", {"after": caught["results"][-1]["seq"]}
    ).json()
    assert again == {"results": [], "has_more": False}


# 6. Whole-object rewrites without transactions ----------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_shortfall_6_concurrent_entries_lose_no_member(postgres):
    room = RoomFactory()
    users = [UserFactory() for _ in range(8)]
    barrier = threading.Barrier(len(users))

    def enter(user) -> int:
        try:
            barrier.wait()
            client = api_client_for(user)
            return client.post(f"/api/v1/rooms/{room.code}/enter", {}, format="json").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(len(users)) as pool:
        assert list(pool.map(enter, users)) == [200] * len(users)
    assert Membership.objects.filter(room=room, left_at__isnull=True).count() == 9
    assert list(
        Message.objects.filter(room=room).order_by("seq").values_list("seq", flat=True)
    ) == (list(range(1, 9)))


def test_shortfall_6_leaving_one_room_keeps_my_other_rooms(user):
    rooms = [RoomFactory() for _ in range(3)]
    for room in rooms:
        join(room, user)
    client = api_client_for(user)
    assert client.post(f"/api/v1/rooms/{rooms[1].code}/leave").status_code == 204
    listed = [r["code"] for r in client.get("/api/v1/rooms").json()["results"]]
    assert listed == [rooms[2].code, rooms[0].code]


def test_shortfall_6_closed_room_stays_consistent_for_its_members(room, user):
    member = join(room).user
    post(room, member, "last words")
    assert api_client_for(user).delete(f"/api/v1/rooms/{room.code}").status_code == 204
    client = api_client_for(member)
    listed = client.get("/api/v1/rooms").json()["results"]
    assert [(r["code"], r["status"], r["my_role"]) for r in listed] == [
        (room.code, "closed", "member")
    ]
    assert client.get(f"/api/v1/rooms/{room.code}/messages").json()["results"][-1]["body"] == (
        "last words"
    )
    refused = client.post(
        f"/api/v1/rooms/{room.code}/messages", {"body": "x", "client_id": "c"}, format="json"
    )
    assert (refused.status_code, refused.json()["code"]) == (410, "room_closed")


# 7. Crashes on a missing room; success read as failure -------------------------------------


def test_shortfall_7_missing_room_is_a_404_on_every_endpoint(user):
    client = api_client_for(user)
    for method, url, data in all_endpoints("ZZZZZZZZ"):
        response = call(client, method, url, data)
        assert response.status_code == 404, (method, url)
        assert response.json() == {"detail": "No such room.", "code": "room_not_found"}


def test_shortfall_7_success_is_a_2xx_that_says_so(room, other_user):
    response = api_client_for(other_user).post(
        f"/api/v1/rooms/{room.code}/enter", {}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["is_member"], response.json()["code"]) == (True, room.code)
