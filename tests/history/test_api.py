"""REST API for entering, leaving and the message history."""

import datetime as dt

import pytest
from django.utils import timezone

from history.models import Message
from history.services import message_set_hidden
from rooms import geo
from rooms.models import Membership, Room
from rooms.services import Geofence, membership_mute, membership_set_banned, room_close
from tests.factories import RoomFactory, StaffFactory, UserFactory, join, member, post
from tests.helpers import api_client_for, expected_payload

pytestmark = pytest.mark.django_db

VENUE = Geofence(latitude=31.2304, longitude=121.4737, radius_m=200)


def north(metres: float) -> float:
    return VENUE.latitude + metres / geo.EARTH_RADIUS_M * 180 / 3.141592653589793


FIELD_CODES = {
    "display_name": "invalid_display_name",
    "body": "invalid_body",
    "client_id": "invalid_client_id",
}


def code_for(detail: str) -> str:
    """A field owned by a service answers with that service's code; others `invalid`."""
    return FIELD_CODES.get(detail.split(":")[0], "invalid")


def bodies(room: Room) -> list[tuple[int, str, str]]:
    return list(room.messages.order_by("seq").values_list("seq", "kind", "body"))


# --- enter --------------------------------------------------------------------------------


def test_enter_joins_and_posts_joined_notice(room, other_user):
    response = api_client_for(other_user).post(
        f"/api/v1/rooms/{room.code}/enter", {"display_name": " Ann "}, format="json"
    )
    assert response.status_code == 200
    room.refresh_from_db()
    body = response.json()
    assert {k: body[k] for k in ("is_member", "my_role", "my_display_name", "member_count")} == {
        "is_member": True,
        "my_role": "member",
        "my_display_name": "Ann",
        "member_count": 2,
    }
    assert body["last_seq"] == 1
    assert bodies(room) == [(1, "system", "Ann joined")]


def test_enter_again_is_harmless_and_renames(room, other_user):
    client = api_client_for(other_user)
    client.post(f"/api/v1/rooms/{room.code}/enter", {}, format="json")
    client.post(f"/api/v1/rooms/{room.code}/enter", {}, format="json")
    response = client.post(
        f"/api/v1/rooms/{room.code}/enter", {"display_name": "Bob"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["my_display_name"] == "Bob"
    assert bodies(room) == [(1, "system", f"{other_user.nickname} joined")]
    assert Membership.objects.filter(room=room).count() == 2


@pytest.mark.parametrize(
    ("payload_", "detail"),
    [
        ({"display_name": ""}, "display_name: This field may not be blank."),
        (
            {"display_name": "x" * 33},
            "display_name: Ensure this field has no more than 32 characters.",
        ),
        ({"latitude": 1}, "Send both latitude and longitude, or neither."),
        (
            {"latitude": 90.5, "longitude": 1},
            "latitude: Ensure this value is less than or equal to 90.",
        ),
        (
            {"latitude": 1, "longitude": 181},
            "longitude: Ensure this value is less than or equal to 180.",
        ),
    ],
)
def test_enter_invalid_input_is_400(room, other_user, payload_, detail):
    response = api_client_for(other_user).post(
        f"/api/v1/rooms/{room.code}/enter", payload_, format="json"
    )
    assert response.status_code == 400
    assert (response.json()["detail"], response.json()["code"]) == (detail, code_for(detail))
    assert not Membership.objects.filter(user=other_user).exists()


def test_enter_display_name_of_32_characters_is_fine(room, other_user):
    response = api_client_for(other_user).post(
        f"/api/v1/rooms/{room.code}/enter", {"display_name": "名" * 32}, format="json"
    )
    assert response.json()["my_display_name"] == "名" * 32


def test_enter_geofence_inside_radius_by_a_few_metres_is_allowed(other_user):
    room = RoomFactory(geofence=VENUE)
    response = api_client_for(other_user).post(
        f"/api/v1/rooms/{room.code}/enter",
        {"latitude": north(197), "longitude": VENUE.longitude},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["is_member"] is True


def test_enter_geofence_outside_radius_by_a_few_metres_is_403(other_user):
    room = RoomFactory(geofence=VENUE)
    response = api_client_for(other_user).post(
        f"/api/v1/rooms/{room.code}/enter",
        {"latitude": north(203), "longitude": VENUE.longitude},
        format="json",
    )
    assert response.status_code == 403
    assert response.json() == {
        "detail": "You are 203 m from the venue; this room admits people within 200 m.",
        "code": "outside_geofence",
    }
    assert bodies(room) == []


def test_enter_geofence_without_location_is_400(other_user):
    room = RoomFactory(geofence=VENUE)
    response = api_client_for(other_user).post(
        f"/api/v1/rooms/{room.code}/enter", {}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "This room is only open near its venue: send your latitude and longitude.",
        "code": "location_required",
    }


def test_enter_geofence_owner_always_allowed(user):
    room = RoomFactory(owner=user, geofence=VENUE)
    from history.services import member_leave

    member_leave(room=room, user=user)
    response = api_client_for(user).post(f"/api/v1/rooms/{room.code}/enter", {}, format="json")
    assert response.status_code == 200
    assert response.json()["my_role"] == "owner"


def test_enter_banned_is_403(room):
    membership = join(room)
    membership_set_banned(membership=membership, banned=True, actor=None)
    response = api_client_for(membership.user).post(
        f"/api/v1/rooms/{room.code}/enter", {}, format="json"
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "You have been removed from this room.", "code": "banned"}


def test_enter_closed_room_is_410(room, other_user):
    room_close(room=room, actor=None)
    response = api_client_for(other_user).post(
        f"/api/v1/rooms/{room.code}/enter", {}, format="json"
    )
    assert response.status_code == 410
    assert response.json() == {"detail": "This room has been closed.", "code": "room_closed"}


def test_enter_expired_room_is_410_before_any_command_runs(room, other_user):
    Room.objects.filter(pk=room.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = api_client_for(other_user).post(
        f"/api/v1/rooms/{room.code}/enter", {}, format="json"
    )
    assert response.status_code == 410
    assert response.json() == {"detail": "This room has expired.", "code": "room_closed"}


def test_enter_unknown_room_is_404(other_user):
    response = api_client_for(other_user).post("/api/v1/rooms/ZZZZZZZZ/enter", {}, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such room.", "code": "room_not_found"}


# --- leave --------------------------------------------------------------------------------


def test_leave_posts_left_notice_and_is_harmless_twice(room):
    membership = join(room, display_name="Ann")
    client = api_client_for(membership.user)
    assert client.post(f"/api/v1/rooms/{room.code}/leave").status_code == 204
    assert client.post(f"/api/v1/rooms/{room.code}/leave").status_code == 204
    assert bodies(room) == [(1, "system", "Ann joined"), (2, "system", "Ann left")]
    membership.refresh_from_db()
    assert membership.left_at is not None
    # Re-entering after leaving joins again.
    client.post(f"/api/v1/rooms/{room.code}/enter", {}, format="json")
    assert bodies(room)[-1] == (3, "system", "Ann joined")


def test_leave_unknown_room_is_404(user):
    response = api_client_for(user).post("/api/v1/rooms/ZZZZZZZZ/leave")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such room.", "code": "room_not_found"}


# --- post ---------------------------------------------------------------------------------


def test_message_post_is_201_with_the_message(room):
    membership = join(room, display_name="Ann")
    response = api_client_for(membership.user).post(
        f"/api/v1/rooms/{room.code}/messages",
        {"body": "  hi all  ", "client_id": "c-1"},
        format="json",
    )
    assert response.status_code == 201
    message = Message.objects.get(client_id="c-1")
    assert response.json() == expected_payload(message, "Ann")
    assert response.json()["body"] == "hi all"
    assert response.json()["seq"] == 2


def test_message_post_repeated_client_id_is_200_and_stores_once(room):
    membership = join(room, display_name="Ann")
    client = api_client_for(membership.user)
    first = client.post(
        f"/api/v1/rooms/{room.code}/messages", {"body": "hi", "client_id": "c-1"}, format="json"
    )
    again = client.post(
        f"/api/v1/rooms/{room.code}/messages", {"body": "hi", "client_id": "c-1"}, format="json"
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Message.objects.filter(client_id="c-1").count() == 1
    room.refresh_from_db()
    assert room.last_seq == 2


def test_message_post_same_client_id_from_another_sender_is_a_new_message(room):
    a, b = join(room), join(room)
    for membership in (a, b):
        response = api_client_for(membership.user).post(
            f"/api/v1/rooms/{room.code}/messages",
            {"body": "hi", "client_id": "same"},
            format="json",
        )
        assert response.status_code == 201
    assert Message.objects.filter(client_id="same").count() == 2


@pytest.mark.parametrize(
    ("payload_", "detail"),
    [
        ({"body": "", "client_id": "c"}, "body: This field may not be blank."),
        ({"body": "   ", "client_id": "c"}, "body: This field may not be blank."),
        (
            {"body": "x" * 2001, "client_id": "c"},
            "body: Ensure this field has no more than 2000 characters.",
        ),
        ({"body": "hi"}, "client_id: This field is required."),
        ({"body": "hi", "client_id": ""}, "client_id: This field may not be blank."),
        (
            {"body": "hi", "client_id": "c" * 65},
            "client_id: Ensure this field has no more than 64 characters.",
        ),
    ],
)
def test_message_post_invalid_input_is_400(room, payload_, detail):
    membership = join(room)
    response = api_client_for(membership.user).post(
        f"/api/v1/rooms/{room.code}/messages", payload_, format="json"
    )
    assert response.status_code == 400
    # The same code the socket's `send` answers with (one rule, one code).
    assert (response.json()["detail"], response.json()["code"]) == (detail, code_for(detail))
    assert not Message.objects.filter(kind="text").exists()


def test_message_post_bounds_are_inclusive(room):
    membership = join(room)
    response = api_client_for(membership.user).post(
        f"/api/v1/rooms/{room.code}/messages",
        {"body": " " + "x" * 2000 + " ", "client_id": "c" * 64},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["body"] == "x" * 2000


def test_message_post_non_member_is_403(room, other_user):
    response = api_client_for(other_user).post(
        f"/api/v1/rooms/{room.code}/messages", {"body": "hi", "client_id": "c"}, format="json"
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "Enter the room first.", "code": "not_member"}


def test_message_post_after_leaving_is_403(room):
    membership = join(room)
    from history.services import member_leave

    member_leave(room=room, user=membership.user)
    response = api_client_for(membership.user).post(
        f"/api/v1/rooms/{room.code}/messages", {"body": "hi", "client_id": "c"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (403, "not_member")


def test_message_post_banned_is_403(room):
    membership = join(room)
    membership_set_banned(membership=membership, banned=True, actor=None)
    response = api_client_for(membership.user).post(
        f"/api/v1/rooms/{room.code}/messages", {"body": "hi", "client_id": "c"}, format="json"
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "You have been removed from this room.", "code": "banned"}


def test_message_post_muted_is_403(room):
    membership = join(room)
    membership = membership_mute(membership=membership, minutes=5, actor=None)
    response = api_client_for(membership.user).post(
        f"/api/v1/rooms/{room.code}/messages", {"body": "hi", "client_id": "c"}, format="json"
    )
    assert response.status_code == 403
    assert response.json() == {
        "detail": f"You are muted until {membership.muted_until.isoformat()}.",
        "code": "muted",
    }


def test_message_post_closed_room_is_410(room):
    membership = join(room)
    room_close(room=room, actor=None)
    response = api_client_for(membership.user).post(
        f"/api/v1/rooms/{room.code}/messages", {"body": "hi", "client_id": "c"}, format="json"
    )
    assert response.status_code == 410
    assert response.json() == {"detail": "This room has been closed.", "code": "room_closed"}


def test_message_post_expired_room_is_410(room):
    membership = join(room)
    Room.objects.filter(pk=room.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = api_client_for(membership.user).post(
        f"/api/v1/rooms/{room.code}/messages", {"body": "hi", "client_id": "c"}, format="json"
    )
    assert response.status_code == 410
    assert response.json() == {"detail": "This room has expired.", "code": "room_closed"}


def test_message_post_staff_who_is_not_a_member_is_403(room):
    for staff in (StaffFactory(), StaffFactory(is_superuser=True)):
        response = api_client_for(staff).post(
            f"/api/v1/rooms/{room.code}/messages", {"body": "hi", "client_id": "c"}, format="json"
        )
        assert (response.status_code, response.json()["code"]) == (403, "not_member")


def test_message_post_throttled_is_429_with_retry_after(room, settings):
    settings.HUILIAO_POST_RATE_COUNT = 4  # the "joined" notice took one
    settings.HUILIAO_POST_RATE_SECONDS = 10
    client = api_client_for(join(room).user)
    responses = [
        client.post(
            f"/api/v1/rooms/{room.code}/messages",
            {"body": "hi", "client_id": f"c{i}"},
            format="json",
        )
        for i in range(4)
    ]
    assert [r.status_code for r in responses] == [201, 201, 201, 429]
    assert responses[3].json() == {
        "detail": "Slow down: at most 4 messages every 10 s.",
        "code": "rate_limited",
    }
    assert 1 <= int(responses[3].headers["Retry-After"]) <= 11
    # A repeat of a stored message is not a new post: still answered.
    repeat = client.post(
        f"/api/v1/rooms/{room.code}/messages", {"body": "hi", "client_id": "c0"}, format="json"
    )
    assert repeat.status_code == 200


def test_message_post_anonymous_is_401(room, api):
    response = api.post(
        f"/api/v1/rooms/{room.code}/messages", {"body": "hi", "client_id": "c"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# --- read ---------------------------------------------------------------------------------


@pytest.fixture
def chat(room):
    """A room with 1 join notice and 9 chat messages: seqs 1..10."""
    membership = join(room, display_name="Ann")
    for i in range(9):
        post(room, membership.user, f"m{i + 2}", client_id=f"c{i + 2}")
    return room, membership


def test_messages_newest_page_by_default(chat):
    room, membership = chat
    response = api_client_for(membership.user).get(
        f"/api/v1/rooms/{room.code}/messages", {"limit": 3}
    )
    messages = Message.objects.filter(room=room, seq__in=[8, 9, 10]).order_by("seq")
    assert response.json() == {
        "results": [expected_payload(m, "Ann") for m in messages],
        "has_more": True,
    }


def test_messages_after_catches_up_in_ascending_seq(chat):
    room, membership = chat
    client = api_client_for(membership.user)
    body = client.get(f"/api/v1/rooms/{room.code}/messages", {"after": 0, "limit": 4}).json()
    assert [m["seq"] for m in body["results"]] == [1, 2, 3, 4]
    assert body["results"][0] == {
        "seq": 1,
        "client_id": None,
        "sender": None,
        "kind": "system",
        "event": "joined",
        "body": "Ann joined",
        "hidden": False,
        "review": "none",
        "recalled": False,
        "reply_to": None,
        "mentions": [],
        "created_at": body["results"][0]["created_at"],
    }
    assert body["has_more"] is True
    body = client.get(f"/api/v1/rooms/{room.code}/messages", {"after": 6, "limit": 4}).json()
    assert ([m["seq"] for m in body["results"]], body["has_more"]) == ([7, 8, 9, 10], False)
    body = client.get(f"/api/v1/rooms/{room.code}/messages", {"after": 10}).json()
    assert body == {"results": [], "has_more": False}


def test_messages_before_scrolls_back(chat):
    room, membership = chat
    client = api_client_for(membership.user)
    body = client.get(f"/api/v1/rooms/{room.code}/messages", {"before": 8, "limit": 3}).json()
    assert ([m["seq"] for m in body["results"]], body["has_more"]) == ([5, 6, 7], True)
    body = client.get(f"/api/v1/rooms/{room.code}/messages", {"before": 4, "limit": 3}).json()
    assert ([m["seq"] for m in body["results"]], body["has_more"]) == ([1, 2, 3], False)


def test_messages_default_limit_is_50(room, settings):
    settings.HUILIAO_POST_RATE_COUNT = 1000
    membership = join(room)
    for i in range(60):
        post(room, membership.user, f"m{i}")
    body = api_client_for(membership.user).get(f"/api/v1/rooms/{room.code}/messages").json()
    assert ([m["seq"] for m in body["results"]], body["has_more"]) == (list(range(12, 62)), True)


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"limit": 0}, "limit: Ensure this value is greater than or equal to 1."),
        ({"limit": 101}, "limit: Ensure this value is less than or equal to 100."),
        ({"after": -1}, "after: Ensure this value is greater than or equal to 0."),
        ({"before": 0}, "before: Ensure this value is greater than or equal to 1."),
        ({"after": 1, "before": 5}, "Use either after or before, not both."),
        ({"after": "x"}, "after: A valid integer is required."),
    ],
)
def test_messages_invalid_paging_is_400(chat, params, detail):
    room, membership = chat
    response = api_client_for(membership.user).get(f"/api/v1/rooms/{room.code}/messages", params)
    assert response.status_code == 400
    assert (response.json()["detail"], response.json()["code"]) == (detail, "invalid")


def test_messages_limit_bounds_are_inclusive(chat):
    room, membership = chat
    client = api_client_for(membership.user)
    assert (
        len(client.get(f"/api/v1/rooms/{room.code}/messages", {"limit": 1}).json()["results"]) == 1
    )
    assert (
        len(client.get(f"/api/v1/rooms/{room.code}/messages", {"limit": 100}).json()["results"])
        == 10
    )


def test_messages_hidden_come_back_empty(chat):
    room, membership = chat
    message = Message.objects.get(room=room, seq=5)
    message_set_hidden(message=message, hidden=True, actor=None)
    client = api_client_for(membership.user)
    body = client.get(f"/api/v1/rooms/{room.code}/messages", {"after": 4, "limit": 1}).json()
    assert body["results"] == [{**expected_payload(message, "Ann"), "body": "", "hidden": True}]
    assert client.get(f"/api/v1/rooms/{room.code}/messages/5").json()["body"] == ""


def test_messages_read_by_non_member_is_403(chat, other_user):
    room, _ = chat
    client = api_client_for(other_user)
    for url in ("messages", "messages/info", "messages/1"):
        response = client.get(f"/api/v1/rooms/{room.code}/{url}")
        assert response.status_code == 403
        assert response.json() == {"detail": "Enter the room first.", "code": "not_member"}


def test_messages_read_by_banned_is_403(chat):
    room, _ = chat
    banned = join(room)
    membership_set_banned(membership=banned, banned=True, actor=None)
    response = api_client_for(banned.user).get(f"/api/v1/rooms/{room.code}/messages")
    assert (response.status_code, response.json()["code"]) == (403, "banned")


def test_messages_read_by_muted_member_works(chat):
    room, membership = chat
    membership_mute(membership=membership, minutes=5, actor=None)
    response = api_client_for(membership.user).get(f"/api/v1/rooms/{room.code}/messages")
    assert response.status_code == 200


def test_messages_read_after_close_and_expiry_still_works(chat):
    room, membership = chat
    client = api_client_for(membership.user)
    Room.objects.filter(pk=room.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert len(client.get(f"/api/v1/rooms/{room.code}/messages").json()["results"]) == 10
    room_close(room=room, actor=None)
    assert len(client.get(f"/api/v1/rooms/{room.code}/messages").json()["results"]) == 10
    assert client.get(f"/api/v1/rooms/{room.code}/messages/info").json() == {
        "count": 10,
        "first_seq": 1,
        "last_seq": 10,
    }


def test_messages_read_by_owner_of_the_room_and_superuser(chat, user):
    room, _ = chat
    assert api_client_for(user).get(f"/api/v1/rooms/{room.code}/messages").status_code == 200
    superuser = StaffFactory(is_superuser=True)
    assert api_client_for(superuser).get(f"/api/v1/rooms/{room.code}/messages").status_code == 200
    plain_staff = StaffFactory()
    refused = api_client_for(plain_staff).get(f"/api/v1/rooms/{room.code}/messages")
    assert (refused.status_code, refused.json()["code"]) == (403, "not_member")


def test_messages_of_another_room_are_not_visible_through_mine(chat):
    room, _ = chat
    other = RoomFactory()
    stranger = join(other)
    post(other, stranger.user, "elsewhere")
    response = api_client_for(stranger.user).get(f"/api/v1/rooms/{room.code}/messages")
    assert (response.status_code, response.json()["code"]) == (403, "not_member")
    body = api_client_for(stranger.user).get(f"/api/v1/rooms/{other.code}/messages").json()
    assert [m["body"] for m in body["results"]] == [f"{stranger.display_name} joined", "elsewhere"]


def test_messages_info_counts_and_bounds(chat, room):
    _, membership = chat
    response = api_client_for(membership.user).get(f"/api/v1/rooms/{room.code}/messages/info")
    assert response.json() == {"count": 10, "first_seq": 1, "last_seq": 10}


def test_messages_info_of_empty_room(user):
    room = RoomFactory(owner=user)
    response = api_client_for(user).get(f"/api/v1/rooms/{room.code}/messages/info")
    assert response.json() == {"count": 0, "first_seq": None, "last_seq": None}


def test_message_get_by_seq(chat):
    room, membership = chat
    response = api_client_for(membership.user).get(f"/api/v1/rooms/{room.code}/messages/3")
    assert response.json() == expected_payload(Message.objects.get(room=room, seq=3), "Ann")
    missing = api_client_for(membership.user).get(f"/api/v1/rooms/{room.code}/messages/11")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "No such message.", "code": "message_not_found"}


def test_message_sender_shows_display_name_never_account(room):
    sender = UserFactory(nickname="Real Name", avatar_url="https://img.example/a.png")
    join(room, sender, display_name="Speaker")
    message = post(room, sender, "hi")
    body = api_client_for(sender).get(f"/api/v1/rooms/{room.code}/messages/{message.seq}").json()
    assert body["sender"] == {
        "display_name": "Speaker",
        **member(room.pk, sender.pk),
    }
    assert "Real Name" not in str(body)
    assert "https://img.example/a.png" not in str(body)


@pytest.mark.parametrize("items", [1, 3])
def test_messages_list_queries_do_not_grow(room, items, django_assert_num_queries):
    senders = [join(room) for _ in range(items)]
    for membership in senders:
        post(room, membership.user, "hi")
    client = api_client_for(senders[0].user)
    # token + user, room + owner, my membership, the page with senders and display names
    with django_assert_num_queries(4):
        body = client.get(f"/api/v1/rooms/{room.code}/messages", {"after": items}).json()
    assert len(body["results"]) == items


# --- enter: display names ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Ann\nBob joined", "Ann\rx", "\x1b[31mAnn", "Ann\tB"])
def test_enter_display_name_with_control_characters_is_400(room, other_user, name):
    response = api_client_for(other_user).post(
        f"/api/v1/rooms/{room.code}/enter", {"display_name": name}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "display_name must not contain control characters.",
        "code": "invalid_display_name",
    }
    assert not Membership.objects.filter(room=room, user=other_user).exists()
    assert room.messages.count() == 0


def test_rename_to_display_name_with_newline_is_400_and_keeps_the_name(room, other_user):
    client = api_client_for(other_user)
    client.post(f"/api/v1/rooms/{room.code}/enter", {"display_name": "Ann"}, format="json")
    response = client.post(
        f"/api/v1/rooms/{room.code}/enter", {"display_name": "Ann\nBob"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_display_name"
    assert Membership.objects.get(room=room, user=other_user).display_name == "Ann"
