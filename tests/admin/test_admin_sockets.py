"""What organisers do in the admin, as members' open sockets see it: through the real
ASGI application, the room hub and the channel layer."""

import datetime as dt
import io

import pytest
from channels.db import database_sync_to_async  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from history.models import Message  # noqa: E402
from rooms.models import Membership, Room  # noqa: E402
from tests.admin.helpers import change_url, room_form_data  # noqa: E402
from tests.factories import RoomFactory, UserFactory, join, post  # noqa: E402
from tests.live.helpers import (  # noqa: E402
    open_member_socket,
    receive,
    receive_until_close,
)

# Each test's hub closes with its loop (tests.conftest.live_hub).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_hub")]

db = database_sync_to_async


def member_of(room: Room, name: str):
    return join(room, UserFactory(nickname=name), display_name=name)


async def test_admin_ban_closes_the_members_sockets(organiser, organiser_client):
    room = await db(RoomFactory)(owner=organiser)
    ann = await db(member_of)(room, "Ann")
    owner_socket, _ = await open_member_socket(room.code, organiser)
    ann_socket, _ = await open_member_socket(room.code, ann.user)
    data = await db(room_form_data)(room, members={ann: {"banned": "on"}})
    response = await db(organiser_client.post)(change_url(room), data)
    assert response.status_code == 302
    banned = await db(lambda: Membership.objects.get(pk=ann.pk))()
    updated = {
        "type": "member_updated",
        "member_id": banned.member_id,
        "role": "member",
        "muted_until": None,
        "banned": True,
    }
    assert await receive_until_close(ann_socket) == ([updated], 4403)
    assert await receive(owner_socket) == updated
    assert await receive(owner_socket) == {"type": "members", "count": 1, "online": 1}
    assert await owner_socket.receive_nothing(timeout=0.3)
    await owner_socket.disconnect()


async def test_admin_announcement_reaches_open_sockets(organiser, organiser_client):
    room = await db(RoomFactory)(owner=organiser)
    owner_socket, _ = await open_member_socket(room.code, organiser)
    data = await db(room_form_data)(room, announcement="Lunch at 12")
    assert (await db(organiser_client.post)(change_url(room), data)).status_code == 302
    await db(room.refresh_from_db)()
    assert await receive(owner_socket) == {
        "type": "announcement",
        "announcement": {
            "text": "Lunch at 12",
            "updated_at": room.announcement_updated_at.isoformat().replace("+00:00", "Z"),
        },
    }
    await owner_socket.disconnect()


async def test_admin_close_now_sends_room_closed_then_4410(organiser, organiser_client):
    room = await db(RoomFactory)(owner=organiser)
    ann = await db(member_of)(room, "Ann")
    ann_socket, _ = await open_member_socket(room.code, ann.user)
    response = await db(organiser_client.post)(
        "/admin/rooms/room/",
        {"action": "close_rooms", "_selected_action": [str(room.pk)], "confirmed": "yes"},
    )
    assert response.status_code == 302
    assert await receive_until_close(ann_socket) == ([{"type": "room_closed"}], 4410)


async def test_admin_hide_sends_message_hidden(organiser, organiser_client):
    room = await db(RoomFactory)(owner=organiser)
    ann = await db(member_of)(room, "Ann")
    message = await db(post)(room, ann.user, "spam")
    ann_socket, _ = await open_member_socket(room.code, ann.user)
    pk = await db(lambda: Message.objects.get(room=room, seq=message.seq).pk)()
    response = await db(organiser_client.post)(
        "/admin/history/message/", {"action": "hide_messages", "_selected_action": [str(pk)]}
    )
    assert response.status_code == 302
    assert await receive(ann_socket) == {"type": "message_hidden", "seq": message.seq}
    await ann_socket.disconnect()


async def test_expire_rooms_sends_room_closed_to_members_sockets(organiser):
    room = await db(RoomFactory)(owner=organiser)
    ann = await db(member_of)(room, "Ann")
    owner_socket, _ = await open_member_socket(room.code, organiser)
    ann_socket, _ = await open_member_socket(room.code, ann.user)
    # Expired a second ago, after the sockets opened; the command closes it for good.
    await db(Room.objects.filter(pk=room.pk).update)(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    await db(call_command)("expire_rooms", stdout=io.StringIO())
    for socket in [owner_socket, ann_socket]:
        assert await receive_until_close(socket) == ([{"type": "room_closed"}], 4410)
    await db(room.refresh_from_db)()
    assert room.closed_at is not None
