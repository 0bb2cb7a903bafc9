"""Running the room from the room: PATCH, close/reopen, members by member_id, the log.
For each endpoint: who may call it (owner, moderator, member, outsider, superuser) and the
exact refusals, its frame, and its audit row."""

import datetime as dt
from dataclasses import dataclass

import pytest
from django.utils import timezone

from rooms.models import Membership, ModerationAction, Room
from rooms.protocol import iso_datetime as iso
from rooms.services import membership_set_role
from tests.factories import RoomFactory, UserFactory, join
from tests.helpers import api_client_for
from tests.room_listener import listening

pytestmark = pytest.mark.django_db


@pytest.fixture
def listen():
    yield from listening()


@dataclass
class Cast:
    room: Room
    owner: object
    moderator: Membership
    member: Membership
    target: Membership
    outsider: object
    superuser: object

    def user(self, who: str):
        return {
            "owner": self.owner,
            "moderator": self.moderator.user,
            "member": self.member.user,
            "outsider": self.outsider,
            "superuser": self.superuser,
        }[who]


@pytest.fixture
def cast(db) -> Cast:
    owner = UserFactory(nickname="Olga")
    room = RoomFactory(owner=owner, name="Keynote")
    moderator = join(room, display_name="Mo")
    membership_set_role(membership=moderator, role="moderator", actor=owner)
    moderator.refresh_from_db()
    ModerationAction.objects.all().delete()
    return Cast(
        room=room,
        owner=owner,
        moderator=moderator,
        member=join(room, display_name="Mem"),
        target=join(room, display_name="Tara"),
        outsider=UserFactory(),
        superuser=UserFactory(is_staff=True, is_superuser=True, kind="staff"),
    )


def url(cast: Cast, path: str) -> str:
    return f"/api/v1/rooms/{cast.room.code}{path.format(target=cast.target.member_id)}"


MODERATORS = {"owner", "moderator", "superuser"}
MANAGERS = {"owner", "superuser"}
# (method, path, body, who may, the code for the others)
ENDPOINTS = [
    ("patch", "", {"slow_mode_seconds": 30}, MODERATORS, "not_moderator"),
    ("post", "/close", None, MANAGERS, "not_owner"),
    ("post", "/reopen", None, MANAGERS, "not_owner"),
    ("post", "/members/{target}/mute", {"minutes": 5}, MODERATORS, "not_moderator"),
    ("post", "/members/{target}/unmute", None, MODERATORS, "not_moderator"),
    ("post", "/members/{target}/ban", None, MODERATORS, "not_moderator"),
    ("post", "/members/{target}/unban", None, MODERATORS, "not_moderator"),
    ("post", "/members/{target}/role", {"role": "moderator"}, MANAGERS, "not_owner"),
    ("get", "/moderation-log", None, MODERATORS, "not_moderator"),
]


@pytest.mark.parametrize(("method", "path", "body", "allowed", "refusal"), ENDPOINTS)
@pytest.mark.parametrize("who", ["owner", "moderator", "member", "outsider", "superuser"])
def test_moderation_endpoint_answers_only_its_callers(
    cast, who, method, path, body, allowed, refusal
):
    client = api_client_for(cast.user(who))
    response = getattr(client, method)(url(cast, path), body, format="json")
    if who in allowed:
        assert response.status_code == 200, response.json()
    else:
        assert response.status_code == 403
        assert response.json()["code"] == refusal


@pytest.mark.parametrize(("method", "path", "body", "allowed", "refusal"), ENDPOINTS)
def test_moderation_endpoint_needs_credentials(api, cast, method, path, body, allowed, refusal):
    response = getattr(api, method)(url(cast, path), body, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_moderation_endpoint_for_unknown_room_is_404(cast):
    client = api_client_for(cast.owner)
    response = client.post("/api/v1/rooms/ZZZZZZZZ/members/abc/mute", {"minutes": 5})
    assert response.status_code == 404
    assert response.json()["code"] == "room_not_found"


def test_member_action_on_unknown_member_id_is_404(cast):
    client = api_client_for(cast.owner)
    response = client.post(url(cast, "/members/nobody123456/ban"))
    assert response.status_code == 404
    assert response.json() == {"detail": "No such member in this room.", "code": "member_not_found"}


def log_rows(room: Room) -> list[dict]:
    return list(
        ModerationAction.objects.filter(room=room)
        .order_by("id")
        .values("actor_id", "action", "target_member_id", "target_seq", "detail")
    )


# --- PATCH ---------------------------------------------------------------------------------


def test_patch_changes_settings_pushes_room_updated_and_logs(
    cast, listen, django_capture_on_commit_callbacks
):
    live = listen(cast.room)
    expires = (timezone.now() + dt.timedelta(hours=5)).replace(microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(cast.moderator.user).patch(
            url(cast, ""),
            {
                "name": "Keynote Q&A",
                "expires_at": iso(expires),
                "slow_mode_seconds": 20,
                "posting": "moderators",
            },
            format="json",
        )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["slow_mode_seconds"], body["posting"], body["expires_at"]) == (
        "Keynote Q&A",
        20,
        "moderators",
        iso(expires),
    )
    assert body["can_moderate"] is True and body["can_manage"] is False
    assert live.frames(1) == [
        {
            "type": "room_updated",
            "room": {
                "name": "Keynote Q&A",
                "expires_at": iso(expires),
                "slow_mode_seconds": 20,
                "posting": "moderators",
            },
        }
    ]
    assert log_rows(cast.room) == [
        {
            "actor_id": cast.moderator.user_id,
            "action": "room_updated",
            "target_member_id": "",
            "target_seq": None,
            "detail": {
                "name": "Keynote Q&A",
                "expires_at": iso(expires),
                "slow_mode_seconds": 20,
                "posting": "moderators",
            },
        }
    ]


def test_patch_that_changes_nothing_pushes_and_logs_nothing(
    cast, listen, django_capture_on_commit_callbacks
):
    live = listen(cast.room)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(cast.owner).patch(
            url(cast, ""), {"name": "Keynote", "slow_mode_seconds": 0}, format="json"
        )
    assert response.status_code == 200
    assert live.frames() == []
    assert log_rows(cast.room) == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"slow_mode_seconds": -1}, "invalid"),
        ({"slow_mode_seconds": 3601}, "invalid"),
        ({"posting": "nobody"}, "invalid"),
        ({"name": ""}, "invalid_name"),
        ({"expires_at": None}, "invalid_expiry"),
    ],
)
def test_patch_refuses_bad_settings(cast, body, code):
    response = api_client_for(cast.owner).patch(url(cast, ""), body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code
    cast.room.refresh_from_db()
    assert (cast.room.slow_mode_seconds, cast.room.posting, cast.room.name) == (
        0,
        "everyone",
        "Keynote",
    )


# --- close / reopen ------------------------------------------------------------------------


def test_close_pushes_room_closed_and_reopen_undoes_it(
    cast, listen, django_capture_on_commit_callbacks
):
    live = listen(cast.room)
    client = api_client_for(cast.owner)
    with django_capture_on_commit_callbacks(execute=True):
        closed = client.post(url(cast, "/close"))
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"
    assert live.frames(1) == [{"type": "room_closed"}]
    post = api_client_for(cast.member.user).post(
        url(cast, "/messages"), {"body": "hi", "client_id": "c1"}, format="json"
    )
    assert (post.status_code, post.json()["code"]) == (410, "room_closed")

    with django_capture_on_commit_callbacks(execute=True):
        reopened = client.post(url(cast, "/reopen"))
    assert reopened.status_code == 200
    assert (reopened.json()["status"], reopened.json()["closed_at"]) == ("open", None)
    assert live.frames() == []  # closed sockets are gone: clients reconnect
    post = api_client_for(cast.member.user).post(
        url(cast, "/messages"), {"body": "back", "client_id": "c2"}, format="json"
    )
    assert post.status_code == 201
    assert [row["action"] for row in log_rows(cast.room)] == ["room_closed", "room_reopened"]
    assert {row["actor_id"] for row in log_rows(cast.room)} == {cast.owner.pk}


def test_reopen_after_expiry_is_409_until_extended(cast):
    client = api_client_for(cast.owner)
    client.post(url(cast, "/close"))
    Room.objects.filter(pk=cast.room.pk).update(expires_at=timezone.now() - dt.timedelta(1))
    response = client.post(url(cast, "/reopen"))
    assert response.status_code == 409
    assert response.json() == {
        "detail": "This room's time has run out: extend its expiry first, then reopen it.",
        "code": "room_expired",
    }
    later = iso(timezone.now() + dt.timedelta(hours=2))
    assert client.patch(url(cast, ""), {"expires_at": later}, format="json").status_code == 200
    assert client.post(url(cast, "/reopen")).json()["status"] == "open"


def test_close_twice_and_reopen_open_room_are_harmless(cast):
    client = api_client_for(cast.owner)
    assert client.post(url(cast, "/reopen")).json()["status"] == "open"
    client.post(url(cast, "/close"))
    assert client.post(url(cast, "/close")).json()["status"] == "closed"
    assert [row["action"] for row in log_rows(cast.room)] == ["room_closed"]


# --- members -------------------------------------------------------------------------------


def test_mute_pushes_member_updated_logs_and_blocks_posting(
    cast, listen, django_capture_on_commit_callbacks
):
    live = listen(cast.room)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(cast.moderator.user).post(
            url(cast, "/members/{target}/mute"), {"minutes": 10}, format="json"
        )
    cast.target.refresh_from_db()
    assert response.json() == {
        "member_id": cast.target.member_id,
        "display_name": "Tara",
        "role": "member",
        "muted_until": iso(cast.target.muted_until),
        "banned": False,
    }
    assert live.frames(1) == [
        {
            "type": "member_updated",
            "member_id": cast.target.member_id,
            "role": "member",
            "muted_until": iso(cast.target.muted_until),
            "banned": False,
        }
    ]
    assert log_rows(cast.room) == [
        {
            "actor_id": cast.moderator.user_id,
            "action": "member_muted",
            "target_member_id": cast.target.member_id,
            "target_seq": None,
            "detail": {"minutes": 10},
        }
    ]
    refused = api_client_for(cast.target.user).post(
        url(cast, "/messages"), {"body": "hi", "client_id": "m1"}, format="json"
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "muted")

    with django_capture_on_commit_callbacks(execute=True):
        api_client_for(cast.owner).post(url(cast, "/members/{target}/unmute"))
    assert live.frames(1)[0]["muted_until"] is None
    assert log_rows(cast.room)[-1]["action"] == "member_unmuted"


def test_ban_pushes_member_updated_closes_sockets_and_unban_lets_back(
    cast, listen, django_capture_on_commit_callbacks
):
    live = listen(cast.room)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(cast.owner).post(url(cast, "/members/{target}/ban"))
    assert response.json()["banned"] is True
    frames = live.frames(3)
    assert frames == [
        {
            "type": "member_updated",
            "member_id": cast.target.member_id,
            "role": "member",
            "muted_until": None,
            "banned": True,
        },
        {
            "type": "room.control",
            "action": "close_member",
            "user_id": str(cast.target.user_id),
            "code": 4403,
        },
        {"type": "members", "count": 3},
    ]
    enter = api_client_for(cast.target.user).post(url(cast, "/enter"), {}, format="json")
    assert (enter.status_code, enter.json()["code"]) == (403, "banned")
    with django_capture_on_commit_callbacks(execute=True):
        api_client_for(cast.owner).post(url(cast, "/members/{target}/unban"))
    back = api_client_for(cast.target.user).post(url(cast, "/enter"), {}, format="json")
    assert back.status_code == 200
    assert [row["action"] for row in log_rows(cast.room)] == ["member_banned", "member_unbanned"]


def test_role_makes_a_moderator_who_then_moderates(
    cast, listen, django_capture_on_commit_callbacks
):
    live = listen(cast.room)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(cast.owner).post(
            url(cast, "/members/{target}/role"), {"role": "moderator"}, format="json"
        )
    assert response.json()["role"] == "moderator"
    assert live.frames(1)[0] == {
        "type": "member_updated",
        "member_id": cast.target.member_id,
        "role": "moderator",
        "muted_until": None,
        "banned": False,
    }
    assert log_rows(cast.room)[-1]["detail"] == {"role": "moderator"}
    mute = api_client_for(cast.target.user).post(
        f"/api/v1/rooms/{cast.room.code}/members/{cast.member.member_id}/mute",
        {"minutes": 1},
        format="json",
    )
    assert mute.status_code == 200


@pytest.mark.parametrize(
    ("who", "target", "code"),
    [
        ("moderator", "owner", "target_is_owner"),
        ("superuser", "owner", "target_is_owner"),
        ("moderator", "moderator", "target_is_self"),
        ("moderator", "other_moderator", "not_owner"),
    ],
)
def test_member_actions_respect_rank(cast, who, target, code):
    other = join(cast.room, display_name="Mo2")
    membership_set_role(membership=other, role="moderator", actor=cast.owner)
    targets = {
        "owner": Membership.objects.get(room=cast.room, user=cast.owner),
        "moderator": cast.moderator,
        "other_moderator": other,
    }
    response = api_client_for(cast.user(who)).post(
        f"/api/v1/rooms/{cast.room.code}/members/{targets[target].member_id}/ban"
    )
    assert response.status_code == 403
    assert response.json()["code"] == code


def test_owner_acts_on_a_moderator(cast):
    response = api_client_for(cast.owner).post(
        f"/api/v1/rooms/{cast.room.code}/members/{cast.moderator.member_id}/mute",
        {"minutes": 5},
        format="json",
    )
    assert response.status_code == 200


@pytest.mark.parametrize("minutes", [0, -5, 43201, "ten", None])
def test_mute_refuses_bad_minutes(cast, minutes):
    response = api_client_for(cast.owner).post(
        url(cast, "/members/{target}/mute"), {"minutes": minutes}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


# --- the log -------------------------------------------------------------------------------


def test_moderation_log_lists_acts_newest_first_by_room_identity(cast):
    client = api_client_for(cast.owner)
    client.post(url(cast, "/members/{target}/mute"), {"minutes": 5}, format="json")
    api_client_for(cast.superuser).patch(url(cast, ""), {"posting": "moderators"}, format="json")
    response = api_client_for(cast.moderator.user).get(url(cast, "/moderation-log"))
    owner_id = Membership.objects.get(room=cast.room, user=cast.owner).member_id
    entries = response.json()["results"]
    for entry in entries:
        entry.pop("created_at")
    assert response.json()["next"] is None
    assert entries == [
        {
            "action": "room_updated",
            "actor": None,  # site staff who never entered the room
            "member": None,
            "seq": None,
            "detail": {"posting": "moderators"},
        },
        {
            "action": "member_muted",
            "actor": {"member_id": owner_id, "display_name": "Olga"},
            "member": {"member_id": cast.target.member_id, "display_name": "Tara"},
            "seq": None,
            "detail": {"minutes": 5},
        },
    ]


def test_moderation_log_pages_by_cursor(cast):
    client = api_client_for(cast.owner)
    for minutes in (1, 2, 3):
        client.post(url(cast, "/members/{target}/mute"), {"minutes": minutes}, format="json")
    first = client.get(url(cast, "/moderation-log") + "?limit=2").json()
    second = client.get(url(cast, "/moderation-log") + f"?limit=2&cursor={first['next']}").json()
    minutes = [entry["detail"]["minutes"] for entry in first["results"] + second["results"]]
    assert minutes == [3, 2, 1]
    assert second["next"] is None


@pytest.mark.parametrize("entries", [1, 3])
def test_moderation_log_query_count_is_fixed(cast, entries, django_assert_num_queries):
    for minutes in range(entries):
        api_client_for(cast.owner).post(
            url(cast, "/members/{target}/mute"), {"minutes": minutes + 1}, format="json"
        )
    client = api_client_for(cast.owner)
    # token, room, membership, the page
    with django_assert_num_queries(4):
        response = client.get(url(cast, "/moderation-log"))
    assert len(response.json()["results"]) == entries
