"""WeChat's msg_sec_check (v2) on WeChat users' messages, against the local fake WeChat:
pass, review, risky, errcode and timeout (the socket's side: tests/live/test_content_check.py)."""

import pytest

from history.models import Message
from tests.factories import RoomFactory, UserFactory, WechatUserFactory, join
from tests.fake_wechat import sec_check_answer
from tests.helpers import api_client_for

CHECK = "/wxa/msg_sec_check"
REJECTED = {
    "detail": "This text can't be posted here: it goes against the room's rules.",
    "code": "content_rejected",
}


@pytest.fixture
def room(db):
    return RoomFactory(name="Keynote")


@pytest.fixture
def wechat_member(room):
    return join(room, WechatUserFactory(), display_name="Wei")


def send(room, user, body="你好", client_id="c1"):
    return api_client_for(user).post(
        f"/api/v1/rooms/{room.code}/messages", {"body": body, "client_id": client_id}, format="json"
    )


def test_pass_posts_the_message_and_sends_wechat_scene_2_with_openid(room, wechat_member, wechat):
    response = send(room, wechat_member.user, "大家好")
    assert response.status_code == 201
    assert (response.json()["hidden"], response.json()["review"]) == (False, "none")
    (call,) = wechat.posts(CHECK)
    assert call["json"] == {
        "content": "大家好",
        "version": 2,
        "scene": 2,
        "openid": wechat_member.user.openid,
    }
    assert call["query"]["access_token"] == ["TOKEN-1"]


def test_review_holds_the_message_for_a_moderator(room, wechat_member, wechat):
    wechat.queue(CHECK, sec_check_answer("review"))
    reader = join(room)
    response = send(room, wechat_member.user, "看看这个")
    assert response.status_code == 201
    mine = response.json()
    assert (mine["body"], mine["hidden"], mine["review"]) == ("看看这个", True, "pending")
    theirs = (
        api_client_for(reader.user).get(f"/api/v1/rooms/{room.code}/messages/{mine['seq']}").json()
    )
    assert (theirs["body"], theirs["hidden"]) == ("", True)
    # Approved by the owner: everyone sees it.
    api_client_for(room.owner).post(f"/api/v1/rooms/{room.code}/messages/{mine['seq']}/unhide")
    shown = (
        api_client_for(reader.user).get(f"/api/v1/rooms/{room.code}/messages/{mine['seq']}").json()
    )
    assert (shown["body"], shown["hidden"], shown["review"]) == ("看看这个", False, "none")


def test_risky_is_rejected_and_nothing_stored(room, wechat_member, wechat):
    wechat.queue(CHECK, sec_check_answer("risky"))
    before = Message.objects.count()
    response = send(room, wechat_member.user, "bad")
    assert (response.status_code, response.json()) == (400, REJECTED)
    assert Message.objects.count() == before


@pytest.mark.parametrize("policy", ["review", "pass"])
@pytest.mark.parametrize("failure", ["errcode", "timeout", "garbage"])
def test_a_failed_check_follows_the_failure_policy(
    room, wechat_member, wechat, settings, policy, failure
):
    settings.HUILIAO_CONTENT_CHECK_FAILURE = policy
    settings.WECHAT_CHECK_TIMEOUT = 0.3
    if failure == "errcode":
        wechat.queue(CHECK, {"errcode": 44004, "errmsg": "empty content"})
    elif failure == "timeout":
        wechat.post_delays[CHECK] = 1.0
    else:
        wechat.queue(CHECK, b"<html>bad gateway</html>", status=502)
    response = send(room, wechat_member.user, "hello")
    assert response.status_code == 201
    held = policy == "review"
    assert (response.json()["hidden"], response.json()["review"]) == (
        held,
        "pending" if held else "none",
    )


def test_stale_token_is_refreshed_once(room, wechat_member, wechat):
    wechat.queue(CHECK, {"errcode": 40001, "errmsg": "invalid credential"})
    response = send(room, wechat_member.user, "hello")
    assert (response.status_code, response.json()["review"]) == (201, "none")
    assert [call["query"]["access_token"] for call in wechat.posts(CHECK)] == [
        ["TOKEN-1"],
        ["TOKEN-2"],
    ]


def test_guests_are_never_sent_to_wechat(room, wechat):
    guest = join(room, UserFactory())
    assert send(room, guest.user, "hi").status_code == 201
    assert wechat.posts(CHECK) == []


def test_after_five_failures_in_a_row_wechat_is_not_asked_for_a_while(
    room, wechat_member, wechat, settings
):
    from history.services import check_breaker

    settings.HUILIAO_CONTENT_CHECK_FAILURE = "review"
    for n in range(5):
        wechat.queue(CHECK, {"errcode": -1, "errmsg": "system busy"})
        assert send(room, wechat_member.user, f"m{n}", f"c{n}").json()["review"] == "pending"
    asked = len(wechat.posts(CHECK))
    # Open: held at once, WeChat not asked.
    assert send(room, wechat_member.user, "m5", "c5").json()["review"] == "pending"
    assert len(wechat.posts(CHECK)) == asked
    # After a while, one message tries again; WeChat is back, and so is the check.
    check_breaker.open_until = 0.0  # as if OPEN_SECONDS had passed
    assert send(room, wechat_member.user, "m6", "c6").json()["review"] == "none"
    assert len(wechat.posts(CHECK)) == asked + 1
