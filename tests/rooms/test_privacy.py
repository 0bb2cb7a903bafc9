"""Inside a room a person is their member_id, display name and preset avatar: the attacks
of the security review (cross-room tracking, the owner's account in room detail,
impersonation by renaming, account names in the admin), each with its exact refusal."""

import json

import pytest
from django.test import Client

from history.models import Message
from rooms.models import Membership
from tests.factories import RoomFactory, StaffFactory, UserFactory, WechatUserFactory, join, post
from tests.helpers import api_client_for

pytestmark = pytest.mark.django_db

TRACKER = "https://tracker.example/pixel.gif"


def enter(user, room, body):
    return api_client_for(user).post(f"/api/v1/rooms/{room.code}/enter", body, format="json")


def everything_a_member_reads(user, room) -> str:
    client = api_client_for(user)
    base = f"/api/v1/rooms/{room.code}"
    bodies = [
        client.get(base).content,
        client.get(f"{base}/members").content,
        client.get(f"{base}/messages").content,
        client.get("/api/v1/rooms").content,
    ]
    return "\n".join(body.decode() for body in bodies)


# 1. Cross-room tracking -----------------------------------------------------------------


def test_one_person_in_two_rooms_has_two_unlinkable_member_ids():
    person = WechatUserFactory(nickname="Wang Wei")
    rooms = [RoomFactory(), RoomFactory()]
    seen = []
    for room in rooms:
        join(room, person, display_name="Wang")
        post(room, person, "hello")
        observer = join(room).user
        page = api_client_for(observer).get(f"/api/v1/rooms/{room.code}/messages").json()
        seen.append(next(m["sender"] for m in page["results"] if m["kind"] == "text"))
    assert seen[0]["member_id"] != seen[1]["member_id"]
    assert {key for sender in seen for key in sender} == {
        "member_id",
        "display_name",
        "avatar",
        "avatar_url",
        "role",
    }
    ids = [Membership.objects.get(room=room, user=person).member_id for room in rooms]
    assert [sender["member_id"] for sender in seen] == ids
    assert all(len(member_id) == 12 for member_id in ids)


def test_no_account_id_or_openid_in_any_room_response():
    owner = WechatUserFactory()
    room = RoomFactory(owner=owner)
    person = WechatUserFactory()
    join(room, person, display_name="Guest")
    post(room, person, "hi")
    post(room, owner, "welcome")
    text = everything_a_member_reads(person, room)
    for account in (owner, person):
        assert str(account.pk) not in text
        assert account.openid not in text
    assert json.loads(api_client_for(person).get("/api/v1/me").content)["id"] == str(person.pk)


def test_members_cursor_carries_no_account_id(room):
    for _ in range(3):
        join(room)
    client = api_client_for(room.owner)
    first = client.get(f"/api/v1/rooms/{room.code}/members", {"limit": 2}).json()
    import base64

    cursor = first["next"]
    decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    second = client.get(f"/api/v1/rooms/{room.code}/members", {"limit": 2, "cursor": cursor}).json()
    assert json.loads(decoded)[1] == first["results"][-1]["member_id"]
    assert [m["member_id"] for m in first["results"] + second["results"]] == list(
        Membership.objects.filter(room=room)
        .order_by("joined_at", "member_id")
        .values_list("member_id", flat=True)
    )


# 2. The owner in room detail --------------------------------------------------------------


def test_room_detail_shows_owner_by_room_identity_never_account_photo():
    owner = UserFactory(nickname="Real Name", avatar_url=TRACKER)
    room = RoomFactory(owner=owner)
    stranger = UserFactory()
    body = api_client_for(stranger).get(f"/api/v1/rooms/{room.code}").json()
    mine = Membership.objects.get(room=room, user=owner)
    assert body["owner"] == {
        "member_id": mine.member_id,
        "display_name": mine.display_name,
        "avatar": mine.avatar,
        "avatar_url": f"/static/huiliao/avatars/{mine.avatar}.svg",
        "role": "owner",
    }
    page = Client()
    page.force_login(stranger)
    html = page.get(f"/r/{room.code}/").content.decode()
    assert TRACKER not in html and TRACKER not in json.dumps(body)


# 3. Impersonation by renaming ---------------------------------------------------------------


@pytest.mark.parametrize(
    "taken", ["Organiser", "organiser", "ＯＲＧＡＮＩＳＥＲ", "Organ\u200biser"]
)
def test_entering_as_the_owners_name_is_409(taken):
    owner = UserFactory(nickname="Organiser")
    room = RoomFactory(owner=owner)
    response = enter(UserFactory(), room, {"display_name": taken})
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"Someone in this room is already called {taken!r}: choose another name.",
        "code": "display_name_taken",
    }
    assert Membership.objects.filter(room=room).count() == 1


def test_renaming_to_a_taken_name_is_409_and_old_messages_keep_their_sender(room):
    owner_name = Membership.objects.get(room=room, user=room.owner).display_name
    mallory = join(room, display_name="Mallory").user
    said = post(room, mallory, "the Wi-Fi password is hunter2")
    response = enter(mallory, room, {"display_name": owner_name.upper()})
    assert (response.status_code, response.json()["code"]) == (409, "display_name_taken")
    page = api_client_for(room.owner).get(f"/api/v1/rooms/{room.code}/messages").json()
    sender = next(m["sender"] for m in page["results"] if m["seq"] == said.seq)
    assert (sender["display_name"], sender["role"]) == ("Mallory", "member")


def test_message_frames_carry_the_role_badge(room):
    post(room, room.owner, "Welcome!")
    guest = join(room, display_name="Guest").user
    post(room, guest, "Thanks")
    page = api_client_for(guest).get(f"/api/v1/rooms/{room.code}/messages").json()
    roles = [(m["body"], m["sender"]["role"]) for m in page["results"] if m["kind"] == "text"]
    assert roles == [("Welcome!", "owner"), ("Thanks", "member")]


def test_a_default_nickname_that_is_taken_gets_a_number(room):
    join(room, display_name="Alice")
    second = join(room, UserFactory(nickname="alice"))
    third = join(room, UserFactory(nickname="ALICE"))
    assert (second.display_name, third.display_name) == ("alice 2", "ALICE 3")


def test_a_name_is_free_again_once_its_member_left(room):
    from history.services import member_leave

    first = join(room, display_name="Ann")
    member_leave(room=room, user=first.user)
    second = enter(UserFactory(), room, {"display_name": "Ann"})
    assert (second.status_code, second.json()["my_display_name"]) == (200, "Ann")
    # Back again, the first Ann keeps her place under a number instead of being refused.
    back = enter(first.user, room, {})
    assert (back.status_code, back.json()["my_display_name"]) == (200, "Ann 2")
    # Naming herself "Ann" outright is refused while the other Ann is there.
    again = enter(first.user, room, {"display_name": "ann"})
    assert (again.status_code, again.json()["code"]) == (409, "display_name_taken")


def test_entering_again_under_ones_own_name_in_another_case_is_allowed(room):
    ann = join(room, display_name="Ann")
    response = enter(ann.user, room, {"display_name": "ANN"})
    assert (response.status_code, response.json()["my_display_name"]) == (200, "ANN")


def test_a_name_of_only_invisible_characters_is_400(room):
    response = enter(UserFactory(), room, {"display_name": "\u200b\u200d"})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "display_name must be visible.",
        "code": "invalid_display_name",
    }


def test_two_members_racing_for_one_name_end_with_one_of_them(room, transactional_db):
    """The database's unique index on current names decides a race the check missed."""
    from django.db import IntegrityError, transaction

    ann = join(room, display_name="Ann")
    bob = join(room, display_name="Bob")
    Membership.objects.filter(pk=bob.pk).update(display_name="Ann")  # the check is bypassed
    with pytest.raises(IntegrityError), transaction.atomic():
        bob.refresh_from_db()
        bob.save()  # name_key follows the name: the index refuses a second "ann"
    assert Membership.objects.get(pk=ann.pk).display_name == "Ann"


# 4. Account names in the admin --------------------------------------------------------------


def admin_page(user, url) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_admin_shows_organisers_the_room_identity_only():
    organiser = StaffFactory(nickname="Organiser")
    from django.contrib.auth.models import Group

    organiser.groups.add(Group.objects.get(name="Organisers"))
    room = RoomFactory(owner=organiser)
    person = UserFactory(nickname="Secret Account Name")
    membership = join(room, person, display_name="Speaker")
    post(room, person, "hello")
    urls = [
        f"/admin/rooms/room/{room.pk}/change/",
        f"/admin/rooms/membership/{membership.pk}/change/",
        "/admin/history/message/",
        f"/admin/history/message/{Message.objects.get(room=room, kind='text').pk}/change/",
    ]
    for url in urls:
        html = admin_page(organiser, url)
        assert "Secret Account Name" not in html, url
        assert "Speaker" in html, url
    superuser = StaffFactory(is_superuser=True)
    for url in urls:
        assert "Secret Account Name" in admin_page(superuser, url), url
