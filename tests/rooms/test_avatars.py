"""Per-room preset avatars: the default, picking one on enter, the list, the migration, and
that a member's account avatar never shows inside a room."""

import hashlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from history.models import Message
from rooms.avatars import avatar_default
from rooms.models import Membership, Room
from tests.factories import RoomFactory, UserFactory, join, member, post
from tests.helpers import api_client_for

KEYS = ["sun", "moon", "star", "leaf", "wave", "cloud", "flower", "mountain"]
WECHAT_PHOTO = "https://thirdwx.qlogo.cn/mmopen/vi_32/SecretFace/132"


def expected_default(code: str, user_id) -> str:
    # Spelled out here rather than imported: a changed hash would re-face every member.
    digest = hashlib.sha256(f"{code}:{user_id}".encode()).digest()
    return KEYS[int.from_bytes(digest[:8], "big") % len(KEYS)]


def room_with_code(owner, code: str) -> Room:
    room = RoomFactory(owner=owner)
    Room.objects.filter(pk=room.pk).update(code=code)
    room.refresh_from_db()
    return room


def enter(user, room: Room, data: dict):
    return api_client_for(user).post(f"/api/v1/rooms/{room.code}/enter", data, format="json")


# --- the default --------------------------------------------------------------------------


def test_avatar_default_same_inputs_same_key(db):
    user = UserFactory()
    first = avatar_default(room_code="ABCDEFGH", user_id=user.pk)
    assert first == avatar_default(room_code="ABCDEFGH", user_id=str(user.pk))
    assert first == expected_default("ABCDEFGH", user.pk)


def test_membership_default_avatar_differs_across_rooms_for_same_user(user, other_user):
    # Two codes whose defaults differ for this user (1 in 8 pairs would coincide).
    codes = [f"ROOM{n:04d}" for n in range(100)]
    first = codes[0]
    second = next(
        c
        for c in codes
        if expected_default(c, other_user.pk) != expected_default(first, other_user.pk)
    )
    room_a = room_with_code(user, first)
    room_b = room_with_code(user, second)
    in_a = join(room_a, other_user)
    in_b = join(room_b, other_user)
    assert in_a.avatar == expected_default(first, other_user.pk)
    assert in_b.avatar == expected_default(second, other_user.pk)
    assert in_a.avatar != in_b.avatar


def test_membership_default_avatar_kept_after_leave_and_return(room, other_user):
    from history.services import member_leave

    before = join(room, other_user).avatar
    member_leave(room=room, user=other_user)
    assert join(room, other_user).avatar == before == expected_default(room.code, other_user.pk)


def test_room_create_gives_owner_default_avatar(room, user):
    owner = Membership.objects.get(room=room, user=user)
    assert owner.avatar == expected_default(room.code, user.pk)


# --- entering with an avatar --------------------------------------------------------------


def test_enter_with_valid_avatar_sets_it(room, other_user):
    response = enter(other_user, room, {"display_name": "Ann", "avatar": "moon"})
    assert response.status_code == 200
    body = response.json()
    assert (body["my_avatar"], body["my_avatar_url"]) == (
        "moon",
        "/static/huiliao/avatars/moon.svg",
    )
    assert Membership.objects.get(room=room, user=other_user).avatar == "moon"


@pytest.mark.parametrize("avatar", ["dragon", "", "SUN", " sun", "../x", 7])
def test_enter_with_invalid_avatar_is_400(room, other_user, avatar):
    response = enter(other_user, room, {"avatar": avatar})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "avatar must be one of: sun, moon, star, leaf, wave, cloud, flower, mountain.",
        "code": "invalid_avatar",
    }
    assert not Membership.objects.filter(room=room, user=other_user).exists()


def test_enter_again_with_invalid_avatar_keeps_current(room, other_user):
    enter(other_user, room, {"avatar": "leaf"})
    response = enter(other_user, room, {"avatar": "dragon"})
    assert response.json()["code"] == "invalid_avatar"
    assert Membership.objects.get(room=room, user=other_user).avatar == "leaf"


def test_enter_again_with_avatar_changes_it_and_next_message_shows_it(room, other_user):
    enter(other_user, room, {"display_name": "Ann", "avatar": "sun"})
    before = post(room, other_user, "before")
    response = enter(other_user, room, {"avatar": "wave"})
    assert (response.json()["my_avatar"], response.json()["my_display_name"]) == ("wave", "Ann")
    after = post(room, other_user, "after")
    page = api_client_for(other_user).get(f"/api/v1/rooms/{room.code}/messages").json()
    senders = {m["seq"]: m["sender"] for m in page["results"] if m["sender"]}
    expected = {
        "member_id": Membership.objects.get(room=room, user=other_user).member_id,
        "display_name": "Ann",
        "avatar": "wave",
        "avatar_url": "/static/huiliao/avatars/wave.svg",
        "role": "member",
    }
    # Like the display name, the current avatar shows on old messages too.
    assert senders == {before.seq: expected, after.seq: expected}
    # Re-entering is not joining: no second "joined" notice.
    assert Message.objects.filter(room=room, kind="system").count() == 1


def test_enter_again_without_avatar_keeps_it(room, other_user):
    enter(other_user, room, {"avatar": "flower"})
    response = enter(other_user, room, {"display_name": "Bob"})
    assert (response.json()["my_avatar"], response.json()["my_display_name"]) == ("flower", "Bob")


def test_avatar_url_uses_public_url_when_set(room, other_user, settings):
    settings.HUILIAO_PUBLIC_URL = "https://chat.example.org"
    response = enter(other_user, room, {"avatar": "star"})
    assert (
        response.json()["my_avatar_url"]
        == "https://chat.example.org/static/huiliao/avatars/star.svg"
    )


# --- never the account's avatar -----------------------------------------------------------


def test_account_avatar_url_absent_from_every_room_response(room):
    speaker = UserFactory(nickname="Real Name", avatar_url=WECHAT_PHOTO)
    client = api_client_for(speaker)
    entered = client.post(
        f"/api/v1/rooms/{room.code}/enter", {"display_name": "Speaker"}, format="json"
    )
    message = post(room, speaker, "hello")
    responses = {
        "enter": entered,
        "detail": client.get(f"/api/v1/rooms/{room.code}"),
        "messages": client.get(f"/api/v1/rooms/{room.code}/messages"),
        "messages_after": client.get(f"/api/v1/rooms/{room.code}/messages?after=0"),
        "message": client.get(f"/api/v1/rooms/{room.code}/messages/{message.seq}"),
        "members": client.get(f"/api/v1/rooms/{room.code}/members"),
        "my_rooms": client.get("/api/v1/rooms"),
        "owner_reads_members": api_client_for(room.owner).get(f"/api/v1/rooms/{room.code}/members"),
    }
    for name, response in responses.items():
        assert response.status_code == 200, name
        assert WECHAT_PHOTO not in response.content.decode(), name
    listed = responses["members"].json()["results"][1]
    assert listed == {"display_name": "Speaker", **member(room.pk, speaker.pk)}
    # Only the account's own endpoints show it.
    assert client.get("/api/v1/me").json()["avatar_url"] == WECHAT_PHOTO


# --- the list -----------------------------------------------------------------------------


def test_avatars_list_without_auth(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = api_client_for().get("/api/v1/avatars")
    assert response.status_code == 200
    assert response.json() == {
        "results": [{"key": key, "url": f"/static/huiliao/avatars/{key}.svg"} for key in KEYS]
    }


def test_avatars_list_with_public_url(db, settings):
    settings.HUILIAO_PUBLIC_URL = "https://chat.example.org"
    response = api_client_for(UserFactory()).get("/api/v1/avatars")
    assert response.json()["results"][0] == {
        "key": "sun",
        "url": "https://chat.example.org/static/huiliao/avatars/sun.svg",
    }


def test_avatars_every_key_has_a_small_svg():
    from django.contrib.staticfiles import finders

    for key in KEYS:
        path = finders.find(f"huiliao/avatars/{key}.svg")
        assert path is not None, key
        with open(path, encoding="utf-8") as svg:
            text = svg.read()
        assert text.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
        assert len(text.encode()) < 1024
        assert "http" not in text.replace("http://www.w3.org/2000/svg", "")


# --- the migration ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_migration_0002_gives_existing_members_their_default():
    executor = MigrationExecutor(connection)
    before = [("rooms", "0001_initial")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    User = old.get_model("accounts", "User")
    owner = User.objects.create(username="owner", nickname="Owner")
    guest = User.objects.create(username="guest", nickname="Guest")
    room = old.get_model("rooms", "Room").objects.create(code="MIGRATE2", name="Old", owner=owner)
    OldMembership = old.get_model("rooms", "Membership")
    for user in (owner, guest):
        OldMembership.objects.create(room=room, user=user, display_name=user.nickname)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    avatars = dict(
        Membership.objects.filter(room__code="MIGRATE2").values_list("user_id", "avatar")
    )
    assert avatars == {
        owner.pk: expected_default("MIGRATE2", owner.pk),
        guest.pk: expected_default("MIGRATE2", guest.pk),
    }
