"""Moderating messages: hide / unhide (keep), reports and their threshold, the queue,
recall, slow mode and broadcast mode. Each endpoint: its callers, its frame, its audit row."""

import datetime as dt

import pytest
from django.utils import timezone

from history.models import Message
from rooms.models import Membership, ModerationAction, Report
from rooms.services import membership_set_role, room_update
from tests.factories import RoomFactory, UserFactory, join, post
from tests.helpers import api_client_for, expected_payload, throttle_rates
from tests.room_listener import listening

pytestmark = pytest.mark.django_db


@pytest.fixture
def listen():
    yield from listening()


@pytest.fixture
def room(db):
    return RoomFactory(owner=UserFactory(nickname="Olga"), name="Keynote")


@pytest.fixture
def moderator(room):
    moderator = join(room, display_name="Mo")
    membership_set_role(membership=moderator, role="moderator", actor=room.owner)
    return moderator


@pytest.fixture
def author(room):
    return join(room, display_name="Ann")


@pytest.fixture
def reader(room):
    return join(room, display_name="Rob")


@pytest.fixture
def message(room, author):
    return post(room, author.user, "Buy cheap watches")


def messages_url(room, path=""):
    return f"/api/v1/rooms/{room.code}/messages{path}"


def audit(room) -> list[tuple]:
    return list(
        ModerationAction.objects.filter(room=room)
        .exclude(action="role_set")
        .order_by("id")
        .values_list("actor_id", "action", "target_seq", "detail")
    )


# --- hide / unhide ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/hide", "/unhide"])
@pytest.mark.parametrize(
    ("who", "status", "code"),
    [
        ("owner", 200, None),
        ("moderator", 200, None),
        ("superuser", 200, None),
        ("member", 403, "not_moderator"),
        ("outsider", 403, "not_moderator"),
        ("anonymous", 401, "not_authenticated"),
    ],
)
def test_hide_and_unhide_answer_only_moderators(
    room, moderator, reader, message, path, who, status, code
):
    users = {
        "owner": room.owner,
        "moderator": moderator.user,
        "superuser": UserFactory(is_superuser=True, is_staff=True),
        "member": reader.user,
        "outsider": UserFactory(),
        "anonymous": None,
    }
    response = api_client_for(users[who]).post(messages_url(room, f"/{message.seq}{path}"))
    assert response.status_code == status
    if code:
        assert response.json()["code"] == code


def test_hide_pushes_message_hidden_logs_and_shows_placeholder(
    room, moderator, reader, message, listen, django_capture_on_commit_callbacks
):
    live = listen(room)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(moderator.user).post(messages_url(room, f"/{message.seq}/hide"))
    # Moderators still read what they hid (to undo it); everyone else gets the placeholder.
    assert response.json() == {**expected_payload(message, "Ann"), "body": "Buy cheap watches"}
    assert live.frames(1) == [{"type": "message_hidden", "seq": message.seq}]
    assert audit(room) == [(moderator.user_id, "message_hidden", message.seq, {})]
    seen = api_client_for(reader.user).get(messages_url(room, f"/{message.seq}")).json()
    assert (seen["body"], seen["hidden"]) == ("", True)

    with django_capture_on_commit_callbacks(execute=True):
        api_client_for(room.owner).post(messages_url(room, f"/{message.seq}/unhide"))
    assert live.frames(1) == [
        {"type": "message_restored", "message": expected_payload(message, "Ann")}
    ]
    assert audit(room)[-1] == (room.owner_id, "message_restored", message.seq, {})


def test_hide_unknown_message_is_404(room, moderator):
    response = api_client_for(moderator.user).post(messages_url(room, "/999/hide"))
    assert response.status_code == 404
    assert response.json()["code"] == "message_not_found"


# --- reports -------------------------------------------------------------------------------


def report(room, membership, message, reason="spam", text=""):
    return api_client_for(membership.user).post(
        messages_url(room, f"/{message.seq}/report"),
        {"reason": reason, "text": text},
        format="json",
    )


def test_report_is_stored_once_per_member(room, reader, message):
    first = report(room, reader, message, "abuse", "insults everyone")
    assert first.status_code == 201
    body = first.json()
    assert (body["seq"], body["reason"]) == (message.seq, "abuse")
    again = report(room, reader, message)
    assert again.status_code == 409
    assert again.json() == {
        "detail": "You have already reported this message.",
        "code": "already_reported",
    }
    assert Report.objects.filter(room=room).count() == 1


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("own", 400, "cannot_report_own"),
        ("notice", 400, "cannot_report"),
        ("bad_reason", 400, "invalid"),
        ("outsider", 403, "not_member"),
        ("unknown", 404, "message_not_found"),
    ],
)
def test_report_refusals(room, author, reader, message, case, status, code):
    notice = Message.objects.filter(room=room, kind="system").first()
    who, target, reason = reader, message, "spam"
    if case == "own":
        who = author
    elif case == "notice":
        target = notice
    elif case == "bad_reason":
        reason = "boring"
    elif case == "outsider":
        outsider = UserFactory()
        response = api_client_for(outsider).post(
            messages_url(room, f"/{message.seq}/report"), {"reason": "spam"}, format="json"
        )
        assert (response.status_code, response.json()["code"]) == (status, code)
        return
    elif case == "unknown":
        target = Message(seq=999)
    response = report(room, who, target, reason)
    assert (response.status_code, response.json()["code"]) == (status, code)


def test_reports_at_threshold_hide_the_message_pending_review(
    room, message, listen, settings, django_capture_on_commit_callbacks
):
    settings.HUILIAO_REPORT_HIDE_THRESHOLD = 3
    live = listen(room)
    reporters = [join(room) for _ in range(3)]
    live.frames(3)  # their join notices and member counts
    with django_capture_on_commit_callbacks(execute=True):
        report(room, reporters[0], message)
        report(room, reporters[1], message, "abuse")
    assert live.frames() == []
    with django_capture_on_commit_callbacks(execute=True):
        report(room, reporters[2], message, "spam", "third one")
    assert live.frames(1) == [{"type": "message_hidden", "seq": message.seq}]
    message.refresh_from_db()
    assert (message.hidden, message.review) == (True, "pending")
    assert audit(room) == [
        (None, "message_hidden", message.seq, {"reports": 3, "pending_review": True})
    ]


def test_reports_never_hide_a_managers_message_by_themselves(room, moderator, settings):
    settings.HUILIAO_REPORT_HIDE_THRESHOLD = 2
    announcement = post(room, moderator.user, "Keynote moved to hall B")
    for _ in range(3):
        assert report(room, join(room), announcement, "abuse").status_code == 201
    announcement.refresh_from_db()
    assert (announcement.hidden, announcement.review) == (False, "none")
    queue = api_client_for(room.owner).get(f"/api/v1/rooms/{room.code}/reports").json()
    assert [item["reports"]["count"] for item in queue["results"]] == [3]


def test_reporting_is_throttled(room, reader, settings):
    throttle_rates(settings, report="2/hour")
    messages = [post(room, join(room).user, f"m{n}") for n in range(3)]
    assert [report(room, reader, m).status_code for m in messages] == [201, 201, 429]
    assert report(room, reader, messages[2]).json()["code"] == "throttled"


# --- the queue -----------------------------------------------------------------------------


def test_queue_lists_reported_and_held_messages_and_keep_settles_them(
    room, moderator, reader, author, message, settings, listen, django_capture_on_commit_callbacks
):
    other = join(room, display_name="Zed")
    report(room, reader, message, "spam", "ads")
    report(room, other, message, "abuse")
    quiet = post(room, author.user, "fine message")
    held = post(room, author.user, "held one")
    Message.objects.filter(pk=held.pk).update(hidden=True, review="pending")
    response = api_client_for(moderator.user).get(f"/api/v1/rooms/{room.code}/reports")
    assert response.json() == {
        "results": [
            {
                "message": {**expected_payload(message, "Ann")},
                "held": False,
                "reports": {"count": 2, "reasons": {"spam": 1, "abuse": 1}, "notes": ["ads"]},
            },
            {
                "message": {**expected_payload(held, "Ann"), "body": "held one"},
                "held": True,
                "reports": {"count": 0, "reasons": {}, "notes": []},
            },
        ],
        "next": None,
    }
    assert quiet.seq not in [item["message"]["seq"] for item in response.json()["results"]]

    live = listen(room)
    with django_capture_on_commit_callbacks(execute=True):
        api_client_for(moderator.user).post(messages_url(room, f"/{message.seq}/unhide"))
        api_client_for(moderator.user).post(messages_url(room, f"/{held.seq}/unhide"))
    # The reported one was never hidden: keeping it pushes nothing; the held one appears.
    assert live.frames(1) == [
        {
            "type": "message_restored",
            "message": {**expected_payload(held, "Ann"), "review": "none"},
        }
    ]
    assert api_client_for(moderator.user).get(f"/api/v1/rooms/{room.code}/reports").json() == {
        "results": [],
        "next": None,
    }
    assert set(Report.objects.values_list("outcome", flat=True)) == {"kept"}
    assert audit(room) == [
        (moderator.user_id, "message_restored", message.seq, {"reports": 2}),
        (moderator.user_id, "message_restored", held.seq, {"approved": True}),
    ]


def test_hiding_from_the_queue_rejects_a_held_message(room, moderator, author):
    held = post(room, author.user, "held one")
    Message.objects.filter(pk=held.pk).update(hidden=True, review="pending")
    api_client_for(moderator.user).post(messages_url(room, f"/{held.seq}/hide"))
    held.refresh_from_db()
    assert (held.hidden, held.review) == (True, "rejected")


@pytest.mark.parametrize("items", [1, 3])
def test_queue_query_count_is_fixed(room, moderator, reader, items, django_assert_num_queries):
    for n in range(items):
        report(room, reader, post(room, join(room).user, f"bad {n}"))
    client = api_client_for(moderator.user)
    # token, room, membership (x2: permission and viewer share it), queue, reports
    with django_assert_num_queries(5):
        response = client.get(f"/api/v1/rooms/{room.code}/reports")
    assert len(response.json()["results"]) == items


@pytest.mark.parametrize(("who", "status"), [("reader", 403), ("outsider", 403), ("owner", 200)])
def test_queue_is_for_moderators(room, reader, who, status):
    users = {"reader": reader.user, "outsider": UserFactory(), "owner": room.owner}
    response = api_client_for(users[who]).get(f"/api/v1/rooms/{room.code}/reports")
    assert response.status_code == status


# --- recall --------------------------------------------------------------------------------


def test_recall_keeps_the_seq_empties_the_body_and_pushes_message_recalled(
    room, author, reader, message, listen, django_capture_on_commit_callbacks
):
    live = listen(room)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(author.user).delete(messages_url(room, f"/{message.seq}"))
    assert response.status_code == 204
    assert live.frames(1) == [{"type": "message_recalled", "seq": message.seq}]
    seen = api_client_for(reader.user).get(messages_url(room, f"/{message.seq}")).json()
    assert (seen["seq"], seen["body"], seen["recalled"]) == (message.seq, "", True)
    message.refresh_from_db()
    assert message.body == "Buy cheap watches"  # the admin still shows it
    # Twice is harmless.
    assert (
        api_client_for(author.user).delete(messages_url(room, f"/{message.seq}")).status_code == 204
    )


def test_recall_refusals(room, author, reader, message):
    theirs = api_client_for(reader.user).delete(messages_url(room, f"/{message.seq}"))
    assert (theirs.status_code, theirs.json()["code"]) == (403, "not_sender")
    Message.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - dt.timedelta(seconds=121)
    )
    late = api_client_for(author.user).delete(messages_url(room, f"/{message.seq}"))
    assert late.json() == {
        "detail": "A message can only be recalled within 2 minutes.",
        "code": "recall_expired",
    }


# --- slow mode and broadcast mode ----------------------------------------------------------


def send(room, membership, body):
    return api_client_for(membership.user).post(
        messages_url(room), {"body": body, "client_id": body}, format="json"
    )


def test_slow_mode_lets_a_member_post_once_per_interval_and_exempts_moderators(
    room, author, moderator
):
    room_update(room=room, actor=room.owner, slow_mode_seconds=30)
    assert send(room, author, "first").status_code == 201
    second = send(room, author, "second")
    assert second.status_code == 429
    assert second.json() == {"detail": "Slow mode: one message every 30 s.", "code": "slow_mode"}
    assert 29 <= int(second["Retry-After"]) <= 30
    assert [send(room, moderator, f"mod {n}").status_code for n in range(3)] == [201] * 3
    # A re-send of the stored message is not a new post.
    assert send(room, author, "first").status_code == 200


def test_broadcast_mode_lets_only_managers_post(room, author, moderator):
    room_update(room=room, actor=room.owner, posting="moderators")
    refused = send(room, author, "can I?")
    assert refused.status_code == 403
    assert refused.json() == {
        "detail": "Only the organiser and moderators post in this room.",
        "code": "posting_restricted",
    }
    assert send(room, moderator, "welcome").status_code == 201
    owner = Membership.objects.get(room=room, user=room.owner)
    assert send(room, owner, "keynote at 9").status_code == 201
