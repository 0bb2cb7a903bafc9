"""The live path's metrics move: a handshake, a frame sent, publish → socket write."""

import pytest
from channels.db import database_sync_to_async

from tests.factories import post
from tests.live.helpers import open_member_socket, receive
from tests.site.test_metrics import scrape

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_socket_and_a_message_move_the_live_metrics(room, user):
    before = (await database_sync_to_async(scrape)())["samples"]
    socket, _ = await open_member_socket(room.code, user)
    await database_sync_to_async(post)(room, user, "hello")
    assert (await receive(socket))["type"] == "message"
    after = (await database_sync_to_async(scrape)())["samples"]

    def moved(key: str) -> float:
        return after.get(key, 0) - before.get(key, 0)

    assert moved("huiliao_handshake_seconds_count") == 1
    assert moved("huiliao_frames_sent_total") >= 1
    assert moved("huiliao_publish_to_write_seconds_count") >= 1
    assert after["huiliao_sockets_open|kind=token|path=asgi"] >= 1
    await socket.disconnect()
