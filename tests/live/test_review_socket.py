"""Socket inputs and access rules found in review."""

import asyncio
import datetime as dt

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from history import selectors as history_selectors
from history import services as history_services
from history.live.registry import get_hub
from history.models import Message
from rooms import services as room_services
from rooms.models import Membership, Room
from tests.factories import RoomFactory, UserFactory, join
from tests.live.conftest import open_member_socket, open_socket, receive, receive_until_close

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


def make_member(room: Room, name: str):
    return join(room, UserFactory(nickname=name), display_name=name).user


@pytest.mark.parametrize(
    ("frame", "code", "detail"),
    [
        (
            {"type": "send", "body": "a\u0000b", "client_id": "n1"},
            "invalid_body",
            "body must not contain null characters.",
        ),
        (
            {"type": "send", "body": "hello", "client_id": "n\u00002"},
            "invalid_client_id",
            "client_id must not contain null characters.",
        ),
    ],
)
async def test_send_with_nul_gets_error_and_socket_stays_open(
    room, user, postgres, frame, code, detail
):
    communicator, _ = await open_member_socket(room.code, user)
    await communicator.send_json_to(frame)
    assert await receive(communicator) == {"type": "error", "code": code, "detail": detail}
    await communicator.send_json_to({"type": "ping"})
    assert await receive(communicator) == {"type": "pong"}
    assert await db(Message.objects.filter(room=room).count)() == 0
    await communicator.disconnect()


async def test_send_after_room_was_extended_past_its_old_expiry_is_stored(user):
    room = await db(RoomFactory)(owner=user)
    await db(Room.objects.filter(pk=room.pk).update)(
        expires_at=timezone.now() + dt.timedelta(seconds=3)  # room to connect on a busy machine
    )
    communicator, _ = await open_member_socket(room.code, user)
    await db(room_services.room_extend)(room=room, by=dt.timedelta(days=1))
    await asyncio.sleep(3.5)
    await communicator.send_json_to({"type": "send", "body": "still here", "client_id": "e1"})
    frame = await receive(communicator)
    assert (frame["type"], frame["message"]["seq"], frame["message"]["body"]) == (
        "message",
        1,
        "still here",
    )
    await communicator.disconnect()


async def test_send_after_room_closed_without_push_gets_room_closed(room, user, settings):
    # Before the hub's own periodic re-read could notice the close and end the socket:
    # let its first read (at subscription) finish, and no other come.
    settings.HUILIAO_HUB_CHECK_SECONDS = 3600
    communicator, _ = await open_member_socket(room.code, user)
    feed = get_hub().feeds[room.code]
    await feed.ready
    for _ in range(3):
        await asyncio.sleep(0)  # the watcher takes the feed's lock for its first read
    async with feed.lock:
        pass
    # Closed behind the hub's back (as when a Redis outage lost the room_closed push).
    await db(Room.objects.filter(pk=room.pk).update)(closed_at=timezone.now())
    await communicator.send_json_to({"type": "send", "body": "late", "client_id": "c1"})
    assert await receive(communicator) == {
        "type": "error",
        "code": "room_closed",
        "detail": "This room has been closed.",
    }
    assert await db(Message.objects.filter(room=room).count)() == 0
    await communicator.disconnect()


def _open_room_then(monkeypatch, action):
    """Run `action` right after the handshake's one read, before the socket has a user the
    hub can match: the moment a concurrent ban, leave or close can slip through."""
    real = history_selectors.sockets_open

    def sockets_open(**kwargs):
        results = real(**kwargs)
        for opened in results:
            action(opened.room)
        return results

    monkeypatch.setattr(history_selectors, "sockets_open", sockets_open)


async def test_ban_landing_during_connect_closes_the_socket_4403(room, user, monkeypatch):
    ann = await db(make_member)(room, "Ann")

    def ban(room):
        membership = Membership.objects.get(room=room, user=ann)
        room_services.membership_set_banned(membership=membership, banned=True)

    _open_room_then(monkeypatch, ban)
    communicator = await open_socket(room.code, ann)
    frames, code = await receive_until_close(communicator)
    # Whether the ban's event beats the hello or follows it, the socket ends closed.
    assert code == 4403
    assert [frame["type"] for frame in frames] in ([], ["hello"], ["hello", "members"])


async def test_leave_landing_during_connect_closes_the_socket_4403(room, user, monkeypatch):
    ann = await db(make_member)(room, "Ann")
    _open_room_then(monkeypatch, lambda room: history_services.member_leave(room=room, user=ann))
    communicator = await open_socket(room.code, ann)
    frames, code = await receive_until_close(communicator)
    assert code == 4403
    # At most the hello and the notice of Ann's own leaving, never anything after it.
    assert [frame.get("message", {}).get("body") for frame in frames][1:] in ([], ["Ann left"])


async def test_close_landing_during_connect_sends_room_closed_4410(room, user, monkeypatch):
    _open_room_then(
        monkeypatch, lambda room: room_services.room_close(room=Room.objects.get(pk=room.pk))
    )
    communicator = await open_socket(room.code, user)
    frames, code = await receive_until_close(communicator)
    assert (frames[-1], code) == ({"type": "room_closed"}, 4410)
    assert [frame["type"] for frame in frames[:-1]] in ([], ["hello"])


async def test_deeply_nested_json_gets_error_and_socket_stays_open(room, user):
    communicator, _ = await open_member_socket(room.code, user)
    await communicator.send_to(text_data="[" * 100_000 + "]" * 100_000)
    assert await receive(communicator) == {
        "type": "error",
        "code": "invalid",
        "detail": "Send a JSON object with a type.",
    }
    await communicator.send_json_to({"type": "ping"})
    assert await receive(communicator) == {"type": "pong"}
    await communicator.disconnect()
