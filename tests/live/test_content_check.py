"""A message held by WeChat's content check, sent over the socket: the room gets the
placeholder, its sender their own text."""

import pytest
from channels.db import database_sync_to_async

from tests.factories import UserFactory, WechatUserFactory, join
from tests.fake_wechat import sec_check_answer
from tests.live.helpers import open_member_socket, receive

pytestmark = pytest.mark.django_db(transaction=True)

CHECK = "/wxa/msg_sec_check"


async def test_held_socket_message_reaches_others_as_placeholder_and_its_sender_in_full(
    room, wechat
):
    wechat.queue(CHECK, sec_check_answer("review"))
    wei = await database_sync_to_async(
        lambda: join(room, WechatUserFactory(), display_name="Wei")
    )()
    rob = await database_sync_to_async(lambda: join(room, UserFactory(), display_name="Rob"))()
    sender, _ = await open_member_socket(room.code, wei.user)
    reader, _ = await open_member_socket(room.code, rob.user)
    await sender.send_json_to({"type": "send", "body": "看看这个", "client_id": "h1"})
    seen = await receive(reader)
    assert (seen["type"], seen["message"]["body"], seen["message"]["hidden"]) == (
        "message",
        "",
        True,
    )
    assert seen["message"]["review"] == "pending"
    frames = [await receive(sender), await receive(sender)]
    bodies = sorted(frame["message"]["body"] for frame in frames)
    assert bodies == ["", "看看这个"]  # the room's placeholder, and the sender's own view
    assert {frame["message"]["seq"] for frame in frames} == {seen["message"]["seq"]}
    assert await reader.receive_nothing(timeout=0.3)
    await sender.disconnect()
    await reader.disconnect()
