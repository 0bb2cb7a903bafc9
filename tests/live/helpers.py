"""Talking to the real ASGI application's socket in-process (channels' communicator)."""

import json
from urllib.parse import urlencode

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.services import token_for
from huiliao_site.asgi import application

TIMEOUT = 5


async def token_header(user) -> list[tuple[bytes, bytes]]:
    key = await database_sync_to_async(token_for)(user=user)
    return [(b"authorization", f"Token {key}".encode())]


async def open_socket(
    code: str,
    user=None,
    *,
    after_seq: int | None = None,
    lang: str | None = None,
    headers=None,
    app=application,
) -> WebsocketCommunicator:
    """Connect (as `user`, by token) and return the communicator; handshake accepted."""
    path = f"/ws/rooms/{code}/"
    query = {
        key: value for key, value in (("after_seq", after_seq), ("lang", lang)) if value is not None
    }
    if query:
        path += "?" + urlencode(query)
    headers = list(headers or [])
    if user is not None:
        headers += await token_header(user)
    communicator = WebsocketCommunicator(app, path, headers=headers)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    return communicator


async def receive(communicator: WebsocketCommunicator) -> dict:
    return await communicator.receive_json_from(timeout=TIMEOUT)


async def receive_close(communicator: WebsocketCommunicator) -> int:
    output = await communicator.receive_output(timeout=TIMEOUT)
    assert output["type"] == "websocket.close", output
    return output.get("code")


async def receive_until_close(communicator: WebsocketCommunicator) -> tuple[list[dict], int]:
    frames = []
    while True:
        output = await communicator.receive_output(timeout=TIMEOUT)
        if output["type"] == "websocket.close":
            return frames, output.get("code")
        frames.append(json.loads(output["text"]))


async def open_member_socket(code: str, user, **kwargs) -> tuple[WebsocketCommunicator, dict]:
    """Connect and read the hello frame."""
    communicator = await open_socket(code, user, **kwargs)
    hello = await receive(communicator)
    assert hello["type"] == "hello", hello
    return communicator, hello


def store_unpublished(room, user, body: str):
    """A stored message whose event the layer lost (stored without publishing)."""
    from django.db import transaction

    from history.models import Message
    from rooms import services as room_services

    with transaction.atomic():
        seq = room_services.room_next_seq(room=room)
        return Message.objects.create(room=room, seq=seq, sender=user, body=body, client_id=body)
