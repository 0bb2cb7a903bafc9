"""Q&A: ask (idempotent, anonymous), vote and unvote, list by top or new with fixed query
counts, answered / hide / reopen and promote for managers — callers, payloads, frames,
audit rows."""

import pytest

from history.models import Question
from rooms.models import ContentRule, ModerationAction
from rooms.services import content_rule_save, membership_mute, membership_set_role, room_close
from tests.factories import RoomFactory, UserFactory, join, post
from tests.helpers import api_client_for
from tests.room_listener import listening

pytestmark = pytest.mark.django_db


@pytest.fixture
def listen():
    yield from listening()


@pytest.fixture
def room(db):
    return RoomFactory(owner=UserFactory(nickname="Olga"), name="Keynote")


@pytest.fixture
def ann(room):
    return join(room, display_name="Ann")


@pytest.fixture
def bob(room):
    return join(room, display_name="Bob")


def url(room, path=""):
    return f"/api/v1/rooms/{room.code}/questions{path}"


def ask(room, membership, body="Will the slides be shared?", client_id="q1", **extra):
    return api_client_for(membership.user).post(
        url(room), {"body": body, "client_id": client_id, **extra}, format="json"
    )


def expected(question: Question, *, author=True, my_vote=None, body=None) -> dict:
    question.refresh_from_db()
    member = question.author
    return {
        "id": question.public_id,
        "body": question.body if body is None else body,
        "author": (
            {
                "member_id": member.member_id,
                "display_name": member.display_name,
                "role": member.role,
            }
            if author
            else None
        ),
        "anonymous": question.anonymous,
        "votes": question.votes,
        "my_vote": my_vote,
        "status": question.status,
        "created_at": question.created_at.isoformat().replace("+00:00", "Z"),
        "answered_at": (
            question.answered_at.isoformat().replace("+00:00", "Z")
            if question.answered_at
            else None
        ),
    }


# --- asking --------------------------------------------------------------------------------


def test_ask_stores_pushes_and_is_idempotent(room, ann, listen, django_capture_on_commit_callbacks):
    live = listen(room)
    with django_capture_on_commit_callbacks(execute=True):
        first = ask(room, ann)
    question = Question.objects.get()
    assert first.status_code == 201
    assert first.json() == expected(question, my_vote=False)
    assert live.frames(1) == [{"type": "question", "question": expected(question)}]
    again = ask(room, ann)
    assert (again.status_code, again.json()["id"]) == (200, question.public_id)
    assert Question.objects.count() == 1


def test_anonymous_question_hides_its_author_from_all_but_managers(room, ann, bob):
    question_id = ask(room, ann, anonymous=True).json()["id"]
    question = Question.objects.get(public_id=question_id)
    seen_by_bob = api_client_for(bob.user).get(url(room)).json()["results"]
    assert seen_by_bob == [expected(question, author=False, my_vote=False)]
    seen_by_owner = api_client_for(room.owner).get(url(room)).json()["results"]
    assert seen_by_owner[0]["author"]["display_name"] == "Ann"


@pytest.mark.parametrize(
    ("body", "code"),
    [("", "invalid_question"), ("x" * 301, "invalid_question"), ("   ", "invalid_question")],
)
def test_ask_refuses_bad_bodies(room, ann, body, code):
    response = ask(room, ann, body=body)
    assert (response.status_code, response.json()["code"]) == (400, code)


def test_ask_refusals(room, ann):
    outsider = api_client_for(UserFactory()).post(
        url(room), {"body": "hi?", "client_id": "x"}, format="json"
    )
    assert (outsider.status_code, outsider.json()["code"]) == (403, "not_member")
    content_rule_save(rule=ContentRule(term="spoiler", room=room, action="review"))
    rejected = ask(room, ann, body="Any s.p.o.i.l.e.r.s?", client_id="c")
    assert (rejected.status_code, rejected.json()["code"]) == (400, "content_rejected")
    membership_mute(membership=ann, minutes=5, actor=None)
    muted = ask(room, ann, client_id="m")
    assert (muted.status_code, muted.json()["code"]) == (403, "muted")
    room_close(room=room, actor=None)
    closed = ask(room, ann, client_id="z")
    assert (closed.status_code, closed.json()["code"]) == (410, "room_closed")


def test_questions_stay_open_in_a_broadcast_room(room, ann):
    from rooms.services import room_update

    room_update(room=room, actor=room.owner, posting="moderators")
    assert ask(room, ann).status_code == 201


# --- voting --------------------------------------------------------------------------------


def test_vote_and_unvote_once_per_member_and_push_the_count(
    room, ann, bob, listen, django_capture_on_commit_callbacks
):
    question_id = ask(room, ann).json()["id"]
    live = listen(room)
    vote = url(room, f"/{question_id}/vote")
    with django_capture_on_commit_callbacks(execute=True):
        first = api_client_for(bob.user).post(vote)
        again = api_client_for(bob.user).post(vote)
    assert (first.json()["votes"], first.json()["my_vote"]) == (1, True)
    assert again.json()["votes"] == 1
    assert live.frames(1) == [{"type": "question_votes", "id": question_id, "votes": 1}]
    with django_capture_on_commit_callbacks(execute=True):
        taken_back = api_client_for(bob.user).delete(vote)
    assert (taken_back.json()["votes"], taken_back.json()["my_vote"]) == (0, False)
    assert live.frames(1) == [{"type": "question_votes", "id": question_id, "votes": 0}]
    listed = api_client_for(bob.user).get(url(room)).json()["results"][0]
    assert (listed["votes"], listed["my_vote"]) == (0, False)


def test_vote_refusals(room, ann, bob):
    question_id = ask(room, ann).json()["id"]
    api_client_for(room.owner).post(url(room, f"/{question_id}/answered"))
    closed = api_client_for(bob.user).post(url(room, f"/{question_id}/vote"))
    assert (closed.status_code, closed.json()["code"]) == (409, "question_not_open")
    unknown = api_client_for(bob.user).post(url(room, "/nope1234/vote"))
    assert (unknown.status_code, unknown.json()["code"]) == (404, "question_not_found")
    outsider = api_client_for(UserFactory()).post(url(room, f"/{question_id}/vote"))
    assert (outsider.status_code, outsider.json()["code"]) == (403, "not_member")


# --- listing -------------------------------------------------------------------------------


def test_top_orders_by_votes_then_age_and_new_by_age_with_cursor_paging(room, ann):
    ids = [ask(room, ann, body=f"q{n}?", client_id=f"c{n}").json()["id"] for n in range(4)]
    voters = [join(room) for _ in range(3)]
    for voter in voters:
        api_client_for(voter.user).post(url(room, f"/{ids[2]}/vote"))
    api_client_for(voters[0].user).post(url(room, f"/{ids[1]}/vote"))
    client = api_client_for(ann.user)
    first = client.get(url(room) + "?sort=top&limit=2").json()
    second = client.get(url(room) + f"?sort=top&limit=2&cursor={first['next']}").json()
    assert [q["id"] for q in first["results"] + second["results"]] == [
        ids[2],
        ids[1],
        ids[0],
        ids[3],
    ]
    assert second["next"] is None
    newest = client.get(url(room) + "?sort=new").json()["results"]
    assert [q["id"] for q in newest] == ids[::-1]


def test_status_filters_and_hidden_ones_are_for_managers(room, ann, bob):
    answered, hidden, open_ = (
        ask(room, ann, body=f"{name}?", client_id=name).json()["id"]
        for name in ("answered", "hidden", "open")
    )
    owner = api_client_for(room.owner)
    owner.post(url(room, f"/{answered}/answered"))
    owner.post(url(room, f"/{hidden}/hide"))
    bob_client = api_client_for(bob.user)
    assert [q["id"] for q in bob_client.get(url(room)).json()["results"]] == [open_]
    assert [q["id"] for q in bob_client.get(url(room) + "?status=answered").json()["results"]] == [
        answered
    ]
    assert bob_client.get(url(room) + "?status=hidden").json()["results"] == []
    assert [q["id"] for q in owner.get(url(room) + "?status=hidden").json()["results"]] == [hidden]


@pytest.mark.parametrize("count", [1, 3])
def test_list_query_count_is_fixed(room, ann, count, django_assert_num_queries):
    for n in range(count):
        ask(room, ann, body=f"q{n}?", client_id=f"c{n}")
    client = api_client_for(ann.user)
    # token, room, membership, the page, my votes
    with django_assert_num_queries(5):
        response = client.get(url(room))
    assert len(response.json()["results"]) == count


# --- managers ------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["answered", "hide", "reopen"])
@pytest.mark.parametrize(
    ("who", "status"), [("owner", 200), ("moderator", 200), ("member", 403), ("outsider", 403)]
)
def test_status_actions_are_for_managers(room, ann, bob, action, who, status):
    moderator = join(room, display_name="Mo")
    membership_set_role(membership=moderator, role="moderator", actor=room.owner)
    question_id = ask(room, ann).json()["id"]
    users = {"owner": room.owner, "moderator": moderator.user, "member": bob.user}
    user = users.get(who) or UserFactory()
    response = api_client_for(user).post(url(room, f"/{question_id}/{action}"))
    assert response.status_code == status
    if status == 403:
        assert response.json()["code"] == "not_moderator"


def test_answered_pushes_question_and_logs(room, ann, listen, django_capture_on_commit_callbacks):
    question_id = ask(room, ann).json()["id"]
    live = listen(room)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(room.owner).post(url(room, f"/{question_id}/answered"))
    question = Question.objects.get(public_id=question_id)
    assert response.json() == expected(question)
    assert response.json()["status"] == "answered" and response.json()["answered_at"]
    assert live.frames(1) == [{"type": "question", "question": expected(question)}]
    entry = ModerationAction.objects.get(room=room, action="question_answered")
    assert (entry.actor, entry.target_question) == (room.owner, question_id)


def test_hidden_question_reaches_the_room_without_its_text(
    room, ann, listen, django_capture_on_commit_callbacks
):
    question_id = ask(room, ann).json()["id"]
    live = listen(room)
    with django_capture_on_commit_callbacks(execute=True):
        api_client_for(room.owner).post(url(room, f"/{question_id}/hide"))
    question = Question.objects.get(public_id=question_id)
    assert live.frames(1) == [
        {"type": "question", "question": expected(question, author=False, body="")}
    ]


def test_promote_makes_a_question_in_the_senders_name_once(
    room, ann, listen, django_capture_on_commit_callbacks
):
    message = post(room, ann.user, "What about accessibility?")
    live = listen(room)
    promote = f"/api/v1/rooms/{room.code}/messages/{message.seq}/promote"
    with django_capture_on_commit_callbacks(execute=True):
        first = api_client_for(room.owner).post(promote)
    question = Question.objects.get()
    assert first.json() == expected(question)
    assert first.json()["author"]["display_name"] == "Ann"
    assert live.frames(1) == [{"type": "question", "question": expected(question)}]
    assert api_client_for(room.owner).post(promote).json()["id"] == question.public_id
    assert Question.objects.count() == 1
    entry = ModerationAction.objects.get(room=room, action="message_promoted")
    assert (entry.target_seq, entry.target_question) == (message.seq, question.public_id)
    refused = api_client_for(ann.user).post(promote)
    assert (refused.status_code, refused.json()["code"]) == (403, "not_moderator")
