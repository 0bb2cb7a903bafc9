import datetime as dt
import io
import re

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from accounts.models import User
from history.models import Message
from rooms.models import Membership, Room
from tests.factories import RoomFactory, join, post
from tests.organisers import organisers_group
from tests.room_listener import listening


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def expire(room: Room, ago: dt.timedelta = dt.timedelta(seconds=1)) -> Room:
    Room.objects.filter(pk=room.pk).update(expires_at=timezone.now() - ago)
    room.refresh_from_db()
    return room


@pytest.fixture
def listen():
    yield from listening()


# --- expire_rooms --------------------------------------------------------------------------


def test_expire_rooms_closes_expired_room_and_pushes_room_closed(
    db,
    listen,
    django_capture_on_commit_callbacks,
):
    room = expire(RoomFactory(name="Yesterday"))
    still_open = RoomFactory(name="Tomorrow")
    live = listen(room)
    live_open = listen(still_open)
    with django_capture_on_commit_callbacks(execute=True):
        out = run("expire_rooms")
    room.refresh_from_db()
    still_open.refresh_from_db()
    assert room.closed_at is not None
    assert still_open.closed_at is None
    assert out == (
        f"closed {room.code} 'Yesterday' (expired {room.expires_at.isoformat()})\n"
        "closed 1 room(s)\n"
    )
    assert live.frames(1) == [{"type": "room_closed"}]
    assert live_open.frames() == []


def test_expire_rooms_second_run_changes_nothing(
    db,
    listen,
    django_capture_on_commit_callbacks,
):
    room = expire(RoomFactory())
    run("expire_rooms")
    room.refresh_from_db()
    closed_at = room.closed_at
    live = listen(room)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        out = run("expire_rooms")
    assert out == "closed 0 room(s)\n"
    assert callbacks == []
    assert live.frames() == []
    room.refresh_from_db()
    assert room.closed_at == closed_at


def test_expire_rooms_dry_run_changes_nothing(db):
    room = expire(RoomFactory(name="Gone"), dt.timedelta(hours=2))
    out = run("expire_rooms", "--dry-run")
    assert out == (
        f"would close {room.code} 'Gone' (expired {room.expires_at.isoformat()})\n"
        "would close 1 room(s)\n"
    )
    room.refresh_from_db()
    assert room.closed_at is None


def test_expire_rooms_leaves_rooms_without_expiry(db):
    room = RoomFactory(expires_at=None)
    assert run("expire_rooms") == "closed 0 room(s)\n"
    room.refresh_from_db()
    assert room.closed_at is None


def test_expire_rooms_members_sockets_get_room_closed_frame(
    db,
    listen,
    django_capture_on_commit_callbacks,
):
    room = RoomFactory()
    join(room, display_name="Ann")
    join(room, display_name="Bo")
    expire(room)
    live = listen(room)
    with django_capture_on_commit_callbacks(execute=True):
        run("expire_rooms")
    # One event for the room's group: every process's hub closes its members' sockets.
    assert live.frames(1) == [{"type": "room_closed"}]


# --- purge_rooms ---------------------------------------------------------------------------


def closed_room(days_ago: float, messages: int = 2) -> Room:
    room = RoomFactory()
    member = join(room, display_name="Ann").user
    for index in range(messages - 1):
        post(room, member, f"m{index}")
    Room.objects.filter(pk=room.pk).update(closed_at=timezone.now() - dt.timedelta(days=days_ago))
    room.refresh_from_db()
    return room


def test_purge_rooms_deletes_history_of_rooms_closed_long_ago(db):
    old = closed_room(40, messages=3)
    recent = closed_room(5)
    open_room = RoomFactory()
    post(open_room, open_room.owner, "still here")
    out = run("purge_rooms", "--older-than", "30")
    assert out == (
        f"purged {old.code}: 3 messages, 2 members\n"
        "purged 1 room(s): 3 messages, 2 members in 2 batches\n"
    )
    assert (
        Message.objects.filter(room=old).count(),
        Membership.objects.filter(room=old).count(),
    ) == (0, 0)
    assert Room.objects.filter(pk=old.pk).exists()  # the row stays: old links answer 410
    assert Message.objects.filter(room=recent).count() == 2
    assert Message.objects.filter(room=open_room).count() == 1
    assert run("purge_rooms", "--older-than", "30") == (
        "purged 0 room(s): 0 messages, 0 members in 0 batches\n"
    )


def test_purge_rooms_includes_rooms_expired_long_ago_but_never_closed(db):
    expired = RoomFactory()
    post(expired, expired.owner, "old")
    expire(expired, dt.timedelta(days=31))
    recently_expired = RoomFactory()
    post(recently_expired, recently_expired.owner, "recent")
    expire(recently_expired, dt.timedelta(days=2))
    out = run("purge_rooms", "--older-than", "30")
    assert out.splitlines() == [
        f"purged {expired.code}: 1 messages, 1 members",
        "purged 1 room(s): 1 messages, 1 members in 2 batches",
    ]
    assert Message.objects.filter(room=recently_expired).count() == 1


def test_purge_rooms_dry_run_counts_and_deletes_nothing(db):
    old = closed_room(40, messages=4)
    out = run("purge_rooms", "--older-than", "30", "--dry-run")
    assert out == (
        f"would purge {old.code}: 4 messages, 2 members\n"
        "would purge 1 room(s): 4 messages, 2 members\n"
    )
    assert Message.objects.filter(room=old).count() == 4


def test_purge_rooms_rejects_negative_days(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--older-than must be 0 or more days."):
        run("purge_rooms", "--older-than", "-1")


@pytest.mark.django_db(transaction=True)
def test_purge_rooms_100k_messages_in_batches_of_short_transactions(postgres):
    room = RoomFactory()
    for name in ["Ann", "Bo"]:
        join(room, display_name=name)
    first_seq = room.messages.count() + 1
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO history_message (room_id, seq, kind, body, created_at, hidden) "
            "SELECT %s, g, 'text', 'message ' || g, now(), false "
            "FROM generate_series(%s, %s) AS g",
            [room.pk, first_seq, first_seq + 100_000 - 3],
        )
    assert Message.objects.filter(room=room).count() == 100_000
    Room.objects.filter(pk=room.pk).update(
        closed_at=timezone.now() - dt.timedelta(days=31), last_seq=100_000
    )

    # Which database transaction ran each DELETE, asked of PostgreSQL itself.
    transactions = []

    def record_transaction(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith("DELETE"):
            with context["connection"].connection.cursor() as raw:
                raw.execute("SELECT txid_current()")
                transactions.append((re.search(r'FROM "(\w+)"', sql).group(1), raw.fetchone()[0]))
        return result

    with connection.execute_wrapper(record_transaction):
        out = run("purge_rooms", "--older-than", "30")

    assert out.splitlines()[-2:] == [
        f"purged {room.code}: 100000 messages, 3 members",
        "purged 1 room(s): 100000 messages, 3 members in 21 batches",
    ]
    message_transactions = [txid for table, txid in transactions if table == "history_message"]
    assert len(message_transactions) == 20
    assert len(set(message_transactions)) == 20  # each batch committed on its own
    assert Message.objects.filter(room=room).count() == 0
    assert Membership.objects.filter(room=room).count() == 0
    assert User.objects.count() == 3  # people stay; only their membership of the room went


# --- demo ----------------------------------------------------------------------------------


def test_demo_creates_organiser_room_and_messages_and_is_harmless_twice(db):
    organisers_group()  # a transactional test before this one may have emptied the tables
    out = run("demo")
    organiser = User.objects.get(username="organiser")
    room = Room.objects.get(owner=organiser)
    password = re.search(r"^password: (\S+)$", out, re.M).group(1)
    assert organiser.check_password(password)
    assert (organiser.is_staff, organiser.is_superuser) == (True, False)
    assert list(organiser.groups.values_list("name", flat=True)) == ["Organisers"]
    assert room.has_geofence is False and room.is_open()
    assert f"join URL: http://127.0.0.1:8000/r/{room.code}/\n" in out
    assert list(room.messages.order_by("seq").values_list("kind", "body")) == [
        ("system", "Ann joined"),
        ("text", "Hello everyone, is the keynote in hall A?"),
        ("system", "小李 joined"),
        ("text", "是的，在 A 厅，九点开始。"),
        ("text", "Thanks!"),
    ]

    again = run("demo")
    assert Room.objects.filter(owner=organiser).count() == 1
    assert room.messages.count() == 5
    assert "password: unchanged (run with --reset-password for a new one)\n" in again
    assert f"room {room.code} " in again
    organiser.refresh_from_db()
    assert organiser.check_password(password)
