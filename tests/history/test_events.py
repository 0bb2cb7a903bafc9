"""Every write through the API publishes exactly its frames to the room's group, and only
after the transaction commits. A real channel subscribes to `room.<code>` on the real
in-memory channel layer and reads what arrived."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from history import services as history_services
from history.models import Message
from rooms.protocol import iso_datetime as iso
from tests.factories import RoomFactory, join
from tests.helpers import api_client_for, expected_message_frame


@pytest.fixture
def layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return get_channel_layer()


def subscribe(layer, room) -> str:
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"room.{room.code}", channel)
    return channel


def received(layer, channel) -> list[dict]:
    """Every frame waiting on `channel` (one event loop for the whole drain)."""

    async def drain() -> list[dict]:
        frames = []
        while True:
            try:
                event = await asyncio.wait_for(layer.receive(channel), timeout=0.05)
            except TimeoutError:
                return frames
            # Frames as clients get them; control messages for the hubs as they travel.
            assert event["type"] in {"room.event", "room.control"}
            frames.append(event["frame"] if event["type"] == "room.event" else event)

    return async_to_sync(drain)()


@pytest.mark.django_db
def test_events_message_post_published_only_on_commit(
    layer, room, django_capture_on_commit_callbacks
):
    membership = join(room, display_name="Ann")
    channel = subscribe(layer, room)
    client = api_client_for(membership.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/rooms/{room.code}/messages", {"body": "hi", "client_id": "c1"}, format="json"
        )
        assert response.status_code == 201
        assert received(layer, channel) == []  # not committed yet
    message = Message.objects.get(client_id="c1")
    assert received(layer, channel) == [expected_message_frame(message, "Ann")]


@pytest.mark.django_db
def test_events_message_repeat_and_refusal_publish_nothing(
    layer, room, other_user, django_capture_on_commit_callbacks
):
    membership = join(room)
    client = api_client_for(membership.user)
    url = f"/api/v1/rooms/{room.code}/messages"
    client.post(url, {"body": "hi", "client_id": "c1"}, format="json")
    channel = subscribe(layer, room)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert client.post(url, {"body": "hi", "client_id": "c1"}, format="json").status_code == 200
        refused = api_client_for(other_user).post(
            url, {"body": "x", "client_id": "c"}, format="json"
        )
        assert refused.status_code == 403
    assert callbacks == []
    assert received(layer, channel) == []


@pytest.mark.django_db
def test_events_enter_publishes_member_count_then_joined_notice(
    layer, room, other_user, django_capture_on_commit_callbacks
):
    channel = subscribe(layer, room)
    with django_capture_on_commit_callbacks(execute=True):
        api_client_for(other_user).post(
            f"/api/v1/rooms/{room.code}/enter", {"display_name": "Bob"}, format="json"
        )
    notice = Message.objects.get(room=room, seq=1)
    assert received(layer, channel) == [
        {"type": "members", "count": 2},
        expected_message_frame(notice, None),
    ]
    assert notice.body == "Bob joined"
    # Entering again (a rename) changes no count and posts no notice.
    with django_capture_on_commit_callbacks(execute=True):
        api_client_for(other_user).post(
            f"/api/v1/rooms/{room.code}/enter", {"display_name": "Bobby"}, format="json"
        )
    assert received(layer, channel) == []


@pytest.mark.django_db
def test_events_leave_closes_sockets_then_count_then_notice(
    layer, room, django_capture_on_commit_callbacks
):
    membership = join(room, display_name="Ann")
    channel = subscribe(layer, room)
    with django_capture_on_commit_callbacks(execute=True):
        api_client_for(membership.user).post(f"/api/v1/rooms/{room.code}/leave")
    notice = Message.objects.get(room=room, seq=2)
    assert received(layer, channel) == [
        {
            "type": "room.control",
            "action": "close_member",
            "user_id": str(membership.user_id),
            "code": 4403,
        },
        {"type": "members", "count": 1},
        expected_message_frame(notice, None),
    ]
    assert notice.body == "Ann left"


@pytest.mark.django_db
def test_events_announcement_set_publishes_announcement(
    layer, room, user, django_capture_on_commit_callbacks
):
    channel = subscribe(layer, room)
    with django_capture_on_commit_callbacks(execute=True):
        api_client_for(user).put(
            f"/api/v1/rooms/{room.code}/announcement", {"text": "Lunch"}, format="json"
        )
    room.refresh_from_db()
    assert received(layer, channel) == [
        {
            "type": "announcement",
            "announcement": {"text": "Lunch", "updated_at": iso(room.announcement_updated_at)},
        }
    ]


@pytest.mark.django_db
def test_events_close_publishes_room_closed_once(
    layer, room, user, django_capture_on_commit_callbacks
):
    channel = subscribe(layer, room)
    client = api_client_for(user)
    with django_capture_on_commit_callbacks(execute=True):
        client.delete(f"/api/v1/rooms/{room.code}")
        client.delete(f"/api/v1/rooms/{room.code}")
    assert received(layer, channel) == [{"type": "room_closed"}]


@pytest.mark.django_db(transaction=True)
def test_events_rolled_back_post_publishes_nothing(layer):
    room = RoomFactory()
    membership = join(room)
    channel = subscribe(layer, room)
    with pytest.raises(RuntimeError), transaction.atomic():
        history_services.message_post(room=room, user=membership.user, body="oops", client_id="c1")
        raise RuntimeError("the surrounding work failed")
    assert received(layer, channel) == []
    assert not Message.objects.filter(client_id="c1").exists()
    room.refresh_from_db()
    assert room.last_seq == 1  # the seq was rolled back too: no gap
    # The same post, committed this time, is published at once.
    response = api_client_for(membership.user).post(
        f"/api/v1/rooms/{room.code}/messages", {"body": "ok", "client_id": "c1"}, format="json"
    )
    assert response.json()["seq"] == 2
    assert received(layer, channel) == [
        expected_message_frame(Message.objects.get(client_id="c1"), membership.display_name)
    ]
