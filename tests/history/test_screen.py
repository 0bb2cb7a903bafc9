"""The projector screen: who may open it (managers signed in, or the signed screen link),
and the state it shows (announcement, the top 5 open questions)."""

import pytest
from django.test import Client

from history import services
from rooms.qr import screen_key, screen_path
from rooms.services import announcement_set, membership_set_role
from tests.factories import RoomFactory, UserFactory, join

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def room(db):
    return RoomFactory(name="Keynote")


def test_the_signed_link_opens_the_screen_without_an_account(room):
    response = Client().get(screen_path(room))
    html = response.content.decode()
    assert response.status_code == 200
    assert room.code in html and 'class="screen-qr" src="data:image/png;base64,' in html
    assert Client().get(f"/r/{room.code}/screen/state?key={screen_key(room)}").status_code == 200


@pytest.mark.parametrize("who", ["owner", "moderator", "superuser"])
def test_managers_open_the_screen_signed_in(room, who):
    moderator = join(room)
    membership_set_role(membership=moderator, role="moderator", actor=room.owner)
    users = {
        "owner": room.owner,
        "moderator": moderator.user,
        "superuser": UserFactory(is_superuser=True, is_staff=True),
    }
    assert logged_in(users[who]).get(f"/r/{room.code}/screen/").status_code == 200


@pytest.mark.parametrize("who", ["anonymous", "member", "other room's key"])
def test_anyone_else_gets_not_found(room, who):
    other = RoomFactory()
    if who == "anonymous":
        client, query = Client(), ""
    elif who == "member":
        client, query = logged_in(join(room).user), ""
    else:
        client, query = Client(), f"?key={screen_key(other)}"
    assert client.get(f"/r/{room.code}/screen/{query}").status_code == 404
    assert client.get(f"/r/{room.code}/screen/state{query}").status_code == 404


def test_state_shows_the_announcement_and_the_top_five_open_questions(room):
    announcement_set(room=room, text="Coffee at 10:30", actor=None)
    author = join(room, display_name="Ann")
    asked = [
        services.question_ask(room=room, user=author.user, body=f"Q{n}?", client_id=f"q{n}")[0]
        for n in range(7)
    ]
    voters = [join(room).user for _ in range(3)]
    for voter in voters:
        services.question_vote(question=asked[6], user=voter, up=True)
    services.question_vote(question=asked[3], user=voters[0], up=True)
    services.question_set_status(question=asked[0], status="hidden", actor=None)
    state = Client().get(f"/r/{room.code}/screen/state?key={screen_key(room)}").json()
    assert (state["name"], state["status"], state["announcement"]) == (
        "Keynote",
        "open",
        "Coffee at 10:30",
    )
    assert [(q["body"], q["votes"]) for q in state["questions"]] == [
        ("Q6?", 3),
        ("Q3?", 1),
        ("Q1?", 0),
        ("Q2?", 0),
        ("Q4?", 0),
    ]
