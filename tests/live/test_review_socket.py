"""Socket inputs and access rules found in review."""

import pytest
from channels.db import database_sync_to_async

from history.models import Message
from tests.live.conftest import open_member_socket, receive

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


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
