"""Replies, @mentions and search in a room's history."""

import pytest

from history.models import Message
from rooms.services import membership_set_banned
from tests.factories import RoomFactory, join, post
from tests.helpers import api_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(db):
    return RoomFactory(name="Keynote")


@pytest.fixture
def ann(room):
    return join(room, display_name="Ann")


@pytest.fixture
def bob(room):
    return join(room, display_name="Bob")


def send(room, membership, body, client_id, **extra):
    return api_client_for(membership.user).post(
        f"/api/v1/rooms/{room.code}/messages",
        {"body": body, "client_id": client_id, **extra},
        format="json",
    )


def test_a_reply_names_the_message_it_answers(room, ann, bob):
    question = post(room, ann.user, "Where is hall B?")
    reply = send(room, bob, "Upstairs, on the left", "r1", reply_to=question.seq)
    assert reply.status_code == 201
    assert reply.json()["reply_to"] == question.seq
    assert Message.objects.get(seq=reply.json()["seq"], room=room).reply_to == question.seq


@pytest.mark.parametrize("reply_to", [999, 0, "1", True])
def test_a_reply_to_no_message_is_refused(room, ann, reply_to):
    response = send(room, ann, "hm", "r2", reply_to=reply_to)
    assert response.status_code == 400
    assert response.json()["code"] in {"invalid_reply", "invalid"}


def test_a_reply_to_a_notice_is_refused(room, ann):
    notice = Message.objects.filter(room=room, kind="system").first()
    response = send(room, ann, "hm", "r3", reply_to=notice.seq)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_reply")


def test_mentions_keep_only_people_in_the_room(room, ann, bob):
    gone = join(room, display_name="Gone")
    membership_set_banned(membership=gone, banned=True, actor=None)
    response = send(
        room,
        ann,
        "@Bob @Gone see you at lunch",
        "m1",
        mentions=[bob.member_id, gone.member_id, "nobody123456", bob.member_id],
    )
    assert response.json()["mentions"] == [bob.member_id]


@pytest.mark.parametrize("mentions", ["Bob", [1, 2], ["x"] * 21])
def test_bad_mentions_are_refused(room, ann, mentions):
    response = send(room, ann, "hi", "m2", mentions=mentions)
    assert response.status_code == 400


def test_search_finds_members_messages_newest_first_and_pages(room, ann, bob):
    for n in range(5):
        post(room, ann.user, f"Slides for talk {n} are online")
    post(room, bob.user, "Lunch is served")
    hidden = post(room, bob.user, "slides leak")
    Message.objects.filter(pk=hidden.pk).update(hidden=True)
    client = api_client_for(bob.user)
    url = f"/api/v1/rooms/{room.code}/messages/search"
    first = client.get(url, {"q": "SLIDES", "limit": 3}).json()
    assert [m["body"] for m in first["results"]] == [
        "Slides for talk 4 are online",
        "Slides for talk 3 are online",
        "Slides for talk 2 are online",
    ]
    second = client.get(url, {"q": "slides", "limit": 3, "before": first["next"]}).json()
    assert [m["body"] for m in second["results"]] == [
        "Slides for talk 1 are online",
        "Slides for talk 0 are online",
    ]
    assert second["next"] is None
    assert client.get(url, {"q": "进入"}).json()["results"] == []  # notices are not found


def test_search_finds_chinese_inside_a_sentence(room, ann):
    post(room, ann.user, "明天上午九点在二楼大厅集合")
    found = (
        api_client_for(ann.user)
        .get(f"/api/v1/rooms/{room.code}/messages/search", {"q": "二楼"})
        .json()
    )
    assert [m["body"] for m in found["results"]] == ["明天上午九点在二楼大厅集合"]


def test_search_is_for_members(room, ann):
    from tests.factories import UserFactory

    response = api_client_for(UserFactory()).get(
        f"/api/v1/rooms/{room.code}/messages/search", {"q": "x"}
    )
    assert (response.status_code, response.json()["code"]) == (403, "not_member")


@pytest.mark.parametrize("count", [1, 3])
def test_search_query_count_is_fixed(room, ann, count, django_assert_num_queries):
    for n in range(count):
        post(room, ann.user, f"needle {n}")
    client = api_client_for(ann.user)
    # token, room, membership, the page
    with django_assert_num_queries(4):
        response = client.get(f"/api/v1/rooms/{room.code}/messages/search", {"q": "needle"})
    assert len(response.json()["results"]) == count
