"""The socket's message frames carry the member's room preset, never the account avatar."""

import pytest
from channels.db import database_sync_to_async

from history import services as history_services
from rooms.models import Membership
from rooms.services import Entry
from tests.factories import UserFactory, join
from tests.live.helpers import open_member_socket, receive

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async
WECHAT_PHOTO = "https://thirdwx.qlogo.cn/mmopen/vi_32/SecretFace/132"


def member_id_of(room, user) -> str:
    return Membership.objects.get(room=room, user=user).member_id


def make_speaker(room):
    speaker = UserFactory(nickname="Real Name", avatar_url=WECHAT_PHOTO)
    join(room, speaker, display_name="Speaker")
    return speaker


async def test_message_frame_sender_is_preset_never_account_avatar(room, user):
    speaker = await db(make_speaker)(room)
    owner_socket, _ = await open_member_socket(room.code, user)
    await db(history_services.member_enter)(room=room, user=speaker, entry=Entry(avatar="cloud"))
    speaker_socket, _ = await open_member_socket(room.code, speaker)
    await speaker_socket.send_json_to({"type": "send", "body": "hi", "client_id": "c1"})
    frame = await receive(owner_socket)
    assert frame["type"] == "message"
    assert frame["message"]["sender"] == {
        "member_id": await db(member_id_of)(room, speaker),
        "display_name": "Speaker",
        "avatar": "cloud",
        "avatar_url": "/static/huiliao/avatars/cloud.svg",
        "role": "member",
    }
    assert WECHAT_PHOTO not in str(frame)
    assert await receive(speaker_socket) == frame
    for communicator in (owner_socket, speaker_socket):
        await communicator.disconnect()


async def test_reenter_with_avatar_next_frame_shows_new_avatar(room, user):
    speaker = await db(make_speaker)(room)
    speaker_socket, _ = await open_member_socket(room.code, speaker)
    await db(history_services.member_enter)(room=room, user=speaker, entry=Entry(avatar="star"))
    await speaker_socket.send_json_to({"type": "send", "body": "one", "client_id": "c1"})
    first = await receive(speaker_socket)
    await db(history_services.member_enter)(room=room, user=speaker, entry=Entry(avatar="mountain"))
    await speaker_socket.send_json_to({"type": "send", "body": "two", "client_id": "c2"})
    second = await receive(speaker_socket)
    assert [first["message"]["sender"]["avatar"], second["message"]["sender"]["avatar"]] == [
        "star",
        "mountain",
    ]
    assert second["message"]["sender"]["avatar_url"] == "/static/huiliao/avatars/mountain.svg"
    await speaker_socket.disconnect()


async def test_resume_frames_carry_preset_never_account_avatar(room, user):
    speaker = await db(make_speaker)(room)
    await db(history_services.member_enter)(room=room, user=speaker, entry=Entry(avatar="leaf"))
    await db(history_services.message_post)(room=room, user=speaker, body="old", client_id="o1")
    socket, hello = await open_member_socket(room.code, user, after_seq=0)
    frames = [await receive(socket) for _ in range(hello["last_seq"])]
    senders = [f["message"]["sender"] for f in frames if f["message"]["sender"]]
    assert senders[-1] == {
        "member_id": await db(member_id_of)(room, speaker),
        "display_name": "Speaker",
        "avatar": "leaf",
        "avatar_url": "/static/huiliao/avatars/leaf.svg",
        "role": "member",
    }
    assert WECHAT_PHOTO not in str(frames)
    await socket.disconnect()
