"""The history app's commands: purge_rooms and demo."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import User
from history.models import Message
from rooms.models import Membership, Room
from tests.factories import RoomFactory, join, post
from tests.helpers import expire, run_command
from tests.organisers import organisers_group

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
    out = run_command("purge_rooms", "--older-than", "30")
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
    assert run_command("purge_rooms", "--older-than", "30") == (
        "purged 0 room(s): 0 messages, 0 members in 0 batches\n"
    )


def test_purge_rooms_includes_rooms_expired_long_ago_but_never_closed(db):
    expired = RoomFactory()
    post(expired, expired.owner, "old")
    expire(expired, dt.timedelta(days=31))
    recently_expired = RoomFactory()
    post(recently_expired, recently_expired.owner, "recent")
    expire(recently_expired, dt.timedelta(days=2))
    out = run_command("purge_rooms", "--older-than", "30")
    assert out.splitlines() == [
        f"purged {expired.code}: 1 messages, 1 members",
        "purged 1 room(s): 1 messages, 1 members in 2 batches",
    ]
    assert Message.objects.filter(room=recently_expired).count() == 1


def test_purge_rooms_dry_run_counts_and_deletes_nothing(db):
    old = closed_room(40, messages=4)
    out = run_command("purge_rooms", "--older-than", "30", "--dry-run")
    assert out == (
        f"would purge {old.code}: 4 messages, 2 members\n"
        "would purge 1 room(s): 4 messages, 2 members\n"
    )
    assert Message.objects.filter(room=old).count() == 4


def test_purge_rooms_rejects_negative_days(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--older-than must be 0 or more days."):
        run_command("purge_rooms", "--older-than", "-1")


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
        out = run_command("purge_rooms", "--older-than", "30")

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
    out = run_command("demo")
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

    again = run_command("demo")
    assert Room.objects.filter(owner=organiser).count() == 1
    assert room.messages.count() == 5
    assert "password: unchanged (run with --reset-password for a new one)\n" in again
    assert f"room {room.code} " in again
    organiser.refresh_from_db()
    assert organiser.check_password(password)
