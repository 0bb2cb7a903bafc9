"""A notice reaches each socket in that socket's language (?lang=, else Accept-Language)."""

import pytest
from channels.db import database_sync_to_async

from tests.factories import UserFactory, join
from tests.live.helpers import open_member_socket, receive

pytestmark = pytest.mark.django_db(transaction=True)


async def test_each_socket_gets_the_notice_in_its_own_language(room, user):
    reader = await database_sync_to_async(lambda: join(room, UserFactory(), display_name="Rob"))()
    chinese, _ = await open_member_socket(room.code, user, lang="zh-hans")
    english, _ = await open_member_socket(
        room.code, reader.user, headers=[(b"accept-language", b"en-US,en;q=0.9")]
    )
    await database_sync_to_async(lambda: join(room, UserFactory(), display_name="王伟"))()

    async def notice(socket):
        while True:
            frame = await receive(socket)
            if frame["type"] == "message":
                return frame["message"]

    seen_zh, seen_en = await notice(chinese), await notice(english)
    assert (seen_zh["event"], seen_zh["body"]) == ("joined", "王伟 进入房间")
    assert (seen_en["event"], seen_en["body"]) == ("joined", "王伟 joined")
    assert seen_zh["seq"] == seen_en["seq"]
    # Resuming replays it in the socket's language too.
    replayed, _ = await open_member_socket(room.code, user, lang="zh-hans", after_seq=0)
    frames = [await receive(replayed) for _ in range(2)]
    assert [f["message"]["body"] for f in frames] == ["Rob 进入房间", "王伟 进入房间"]
    for socket in (chinese, english, replayed):
        await socket.disconnect()
