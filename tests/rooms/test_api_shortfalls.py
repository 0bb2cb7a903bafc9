"""Each shortfall of the 2017 original (ORIGINAL.md), shown impossible through the API.
(Shortfall 8, the QR deep link, belongs to the QR endpoints and is tested there.)"""

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.utils import timezone

from history.models import Message
from rooms.models import CODE_ALPHABET, Membership, Room
from rooms.services import Geofence
from tests.conftest import api_client_for
from tests.factories import RoomFactory, UserFactory, join, post

pytestmark = pytest.mark.django_db

VENUE = Geofence(latitude=31.2304, longitude=121.4737, radius_m=500)


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
        assert api_client_for(user).delete(f"/api/v1/rooms/{room.code}").status_code == 403
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
    room = RoomFactory(geofence=VENUE)
    client = api_client_for(other_user)
    # Half a degree away (~55 km) passed the original's ±30-degree test.
    far = client.post(
        f"/api/v1/rooms/{room.code}/enter",
        {"latitude": VENUE.latitude + 0.5, "longitude": VENUE.longitude},
        format="json",
    )
    assert (far.status_code, far.json()["code"]) == (403, "outside_geofence")
    # And the flag is not inverted: inside the fence is let in.
    near = client.post(
        f"/api/v1/rooms/{room.code}/enter",
        {"latitude": VENUE.latitude + 0.004, "longitude": VENUE.longitude},
        format="json",
    )
    assert (near.status_code, near.json()["is_member"]) == (200, True)


def test_shortfall_3_missing_location_gets_a_retryable_answer(other_user):
    room = RoomFactory(geofence=VENUE)
    response = api_client_for(other_user).post(
        f"/api/v1/rooms/{room.code}/enter", {}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "location_required")
    retry = api_client_for(other_user).post(
        f"/api/v1/rooms/{room.code}/enter",
        {"latitude": VENUE.latitude, "longitude": VENUE.longitude},
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
    room = RoomFactory(geofence=VENUE)
    params = {"latitude": VENUE.latitude, "longitude": VENUE.longitude}
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
