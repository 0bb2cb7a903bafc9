"""huiliao_site.sql: statements written out read and write exactly what the ORM would, on
SQLite and on PostgreSQL."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from history import selectors
from history.models import Message
from huiliao_site import sql
from rooms import selectors as room_selectors
from rooms import services as room_services
from rooms.models import Membership


def new_message(room, sender, **fields) -> Message:
    """An unsaved chat message under the room's next seq."""
    return Message(
        room=room,
        seq=room_services.room_next_seq(room=room),
        sender=sender,
        kind=Message.Kind.TEXT,
        **fields,
    )


@pytest.mark.django_db
def test_insert_stores_every_field_as_save_would(room, member):
    membership = Membership.objects.get(room=room, user=member)
    created_at = timezone.now() - dt.timedelta(seconds=3)
    message = sql.insert(
        new_message(
            room,
            member,
            body="你好 'quoted' %s",
            client_id="c-1",
            created_at=created_at,
            reply_to=7,
            mentions=[membership.member_id],
            params={"name": "Ann"},
        )
    )
    assert message.pk is not None
    assert not message._state.adding
    stored = Message.objects.get(pk=message.pk)
    assert (
        stored.room_id,
        stored.seq,
        stored.sender_id,
        stored.kind,
        stored.body,
        stored.client_id,
        stored.created_at,
        stored.reply_to,
        stored.mentions,
        stored.params,
        stored.hidden,
        stored.review,
        stored.recalled_at,
    ) == (
        room.pk,
        message.seq,
        member.pk,
        "text",
        "你好 'quoted' %s",
        "c-1",
        created_at,
        7,
        [membership.member_id],
        {"name": "Ann"},
        False,
        Message.Review.NONE,
        None,
    )


@pytest.mark.django_db
def test_insert_saves_the_orms_way_where_something_listens(room, member):
    from django.db.models.signals import post_save

    heard = []

    def receiver(sender, instance, created, **kwargs):
        heard.append((instance.body, created))

    post_save.connect(receiver, sender=Message)
    try:
        message = sql.insert(
            new_message(room, member, body="heard", client_id="c-2", created_at=timezone.now())
        )
    finally:
        post_save.disconnect(receiver, sender=Message)
    assert heard == [("heard", True)]
    assert Message.objects.get(pk=message.pk).body == "heard"


@pytest.mark.django_db
def test_a_raw_read_returns_aware_datetimes_and_takes_uuids_and_instances(room, member):
    first, _ = _post(room, member, "c-1")
    second, _ = _post(room, member, "c-2")
    recent = selectors._recent_posts(room=room, user=member, now=timezone.now())
    # Newest first (then the notice of their joining), aware (SQLite stores naive UTC
    # text), the same whether the user or only their id is given.
    assert recent[:2] == [second.created_at, first.created_at] and len(recent) == 3
    assert all(moment.tzinfo is not None for moment in recent)
    assert selectors._recent_posts(room=room, user=member.pk, now=timezone.now()) == recent
    # Outside the window: nothing.
    assert (
        selectors._recent_posts(room=room, user=member, now=timezone.now() + dt.timedelta(hours=1))
        == []
    )


@pytest.mark.django_db
def test_the_posting_lock_reads_the_rooms_state_as_committed_now(room, member):
    stale = type(room).objects.get(pk=room.pk)  # as a socket holds it from connect time
    room_services.room_close(room=room, actor=None)
    membership = room_selectors.membership_lock_for_posting(room=stale, user=member)
    assert membership.user_id == member.pk and membership.room is stale
    assert stale.closed_at is not None and stale.closed_at.tzinfo is not None


@pytest.mark.django_db
def test_no_lock_clause_where_the_database_has_no_row_locks():
    assert sql.for_update() == (" FOR UPDATE" if connection.vendor == "postgresql" else "")


def _post(room, user, client_id):
    from history import services

    return services.message_post(room=room, user=user, body="hi", client_id=client_id)
