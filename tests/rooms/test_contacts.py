"""Contact exchange by mutual consent: a private card per room, ask by member_id, accept
or decline (silently); the card leaks nowhere before acceptance."""

import pytest
from django.test import Client

from rooms.models import ContactRequest, Membership
from rooms.services import contact_card_set, membership_mute, membership_set_banned
from tests.factories import RoomFactory, UserFactory, join, post
from tests.helpers import api_client_for, throttle_rates
from tests.room_listener import listening

pytestmark = pytest.mark.django_db

CARD = "WeChat: ann_wx_2026"


@pytest.fixture
def listen():
    yield from listening()


@pytest.fixture
def room(db):
    return RoomFactory(name="Meetup")


@pytest.fixture
def ann(room):
    membership = join(room, display_name="Ann")
    return contact_card_set(membership=membership, card=CARD)


@pytest.fixture
def bob(room):
    membership = join(room, display_name="Bob")
    return contact_card_set(membership=membership, card="bob@example.com")


def contacts(room, membership):
    return api_client_for(membership.user).get(f"/api/v1/rooms/{room.code}/contacts").json()


def ask(room, asker, target_member_id):
    return api_client_for(asker.user).post(
        f"/api/v1/rooms/{room.code}/contacts", {"member_id": target_member_id}, format="json"
    )


def answer(room, membership, request_id, verb):
    return api_client_for(membership.user).post(
        f"/api/v1/rooms/{room.code}/contacts/{request_id}/{verb}"
    )


def test_my_card_is_mine_to_read_and_set(room, ann):
    client = api_client_for(ann.user)
    url = f"/api/v1/rooms/{room.code}/me-in-room"
    assert client.get(url).json() == {
        "member_id": ann.member_id,
        "display_name": "Ann",
        "avatar": ann.avatar,
        "contact_card": CARD,
    }
    changed = client.patch(url, {"contact_card": "  ann@example.org "}, format="json").json()
    assert changed["contact_card"] == "ann@example.org"
    too_long = client.patch(url, {"contact_card": "x" * 201}, format="json")
    assert (too_long.status_code, too_long.json()["code"]) == (400, "invalid_contact_card")
    outsider = api_client_for(UserFactory()).get(url)
    assert (outsider.status_code, outsider.json()["code"]) == (403, "not_member")


def test_ask_reaches_the_recipient_alone_and_accept_shares_both_cards(
    room, ann, bob, listen, django_capture_on_commit_callbacks
):
    live = listen(room)
    with django_capture_on_commit_callbacks(execute=True):
        asked = ask(room, bob, ann.member_id)
    assert asked.status_code == 201
    request_id = asked.json()["id"]
    assert asked.json() == {
        "id": request_id,
        "direction": "out",
        "member": {"member_id": ann.member_id, "display_name": "Ann"},
        "status": "pending",
        "card": None,
    }
    assert live.frames(1) == [
        {
            "type": "room.control",
            "action": "to_user",
            "user_id": str(ann.user_id),
            "frame": {
                "type": "contact_request",
                "request": {
                    "id": request_id,
                    "member": {"member_id": bob.member_id, "display_name": "Bob"},
                },
            },
        }
    ]
    assert contacts(room, ann)["results"] == [
        {
            "id": request_id,
            "direction": "in",
            "member": {"member_id": bob.member_id, "display_name": "Bob"},
            "status": "pending",
            "card": None,
        }
    ]
    with django_capture_on_commit_callbacks(execute=True):
        accepted = answer(room, ann, request_id, "accept")
    assert accepted.json()["card"] == "bob@example.com"
    frames = live.frames(2)
    assert [(f["user_id"], f["frame"]["request"]["card"]) for f in frames] == [
        (str(bob.user_id), CARD),
        (str(ann.user_id), "bob@example.com"),
    ]
    assert contacts(room, bob)["results"][0]["card"] == CARD


def test_a_decline_is_silent(room, ann, bob, listen, django_capture_on_commit_callbacks):
    request_id = ask(room, bob, ann.member_id).json()["id"]
    live = listen(room)
    with django_capture_on_commit_callbacks(execute=True):
        assert answer(room, ann, request_id, "decline").status_code == 204
    assert live.frames() == []
    assert contacts(room, bob)["results"][0]["status"] == "pending"
    assert contacts(room, ann)["results"] == []
    again = ask(room, bob, ann.member_id)
    assert (again.status_code, again.json()["code"]) == (409, "already_asked")


def test_asking_back_accepts_the_first_request(room, ann, bob):
    ask(room, bob, ann.member_id)
    crossed = ask(room, ann, bob.member_id)
    assert crossed.json()["status"] == "accepted" and crossed.json()["card"] == "bob@example.com"
    assert ContactRequest.objects.get().status == "accepted"


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("self", 400, "cannot_ask_self"),
        ("no card", 400, "contact_card_required"),
        ("unknown", 404, "member_not_found"),
        ("muted", 403, "muted"),
        ("banned", 403, "banned"),
        ("twice", 409, "already_asked"),
    ],
)
def test_ask_refusals(room, ann, bob, case, status, code):
    asker, target = bob, ann.member_id
    if case == "self":
        target = bob.member_id
    elif case == "no card":
        asker = join(room, display_name="Cardless")
    elif case == "unknown":
        target = "nobody123456"
    elif case == "muted":
        membership_mute(membership=bob, minutes=5, actor=None)
    elif case == "banned":
        membership_set_banned(membership=bob, banned=True, actor=None)
    elif case == "twice":
        ask(room, bob, ann.member_id)
    response = ask(room, asker, target)
    assert (response.status_code, response.json()["code"]) == (status, code)


def test_asking_is_throttled(room, bob, settings):
    throttle_rates(settings, contact="2/hour")
    people = [contact_card_set(membership=join(room), card="x") for _ in range(3)]
    statuses = [ask(room, bob, person.member_id).status_code for person in people]
    assert statuses == [201, 201, 429]


def test_only_the_recipient_answers(room, ann, bob):
    request_id = ask(room, bob, ann.member_id).json()["id"]
    for who in (bob, join(room)):
        response = answer(room, who, request_id, "accept")
        assert (response.status_code, response.json()["code"]) == (404, "contact_not_found")


def test_the_card_leaks_nowhere_before_acceptance(room, ann, bob, settings):
    """Every way anyone else could read about Ann, with the card not in any of it."""
    from history.models import Message

    post(room, ann.user, "hello")
    ask(room, bob, ann.member_id)
    superuser = UserFactory(is_superuser=True, is_staff=True, kind="staff")
    bob_api = api_client_for(bob.user)
    owner_api = api_client_for(room.owner)
    admin = Client()
    admin.force_login(superuser)
    seen = [
        bob_api.get(f"/api/v1/rooms/{room.code}").content,
        bob_api.get(f"/api/v1/rooms/{room.code}/members").content,
        bob_api.get(f"/api/v1/rooms/{room.code}/messages").content,
        bob_api.get(f"/api/v1/rooms/{room.code}/contacts").content,
        owner_api.get(f"/api/v1/rooms/{room.code}/members").content,
        owner_api.get(f"/api/v1/rooms/{room.code}/moderation-log").content,
        admin.get("/admin/rooms/membership/").content,
        admin.get(f"/admin/rooms/membership/{ann.pk}/change/").content,
        admin.get(f"/admin/rooms/room/{room.pk}/change/").content,
        admin.post(
            "/admin/rooms/room/",
            {"action": "export_history", "_selected_action": [str(room.pk)]},
        ).getvalue(),
        admin.get("/admin/history/message/").content,
    ]
    for body in seen:
        assert b"ann_wx_2026" not in body
    assert Message.objects.filter(body__contains="ann_wx").count() == 0
    assert Membership.objects.get(pk=ann.pk).contact_card == CARD
