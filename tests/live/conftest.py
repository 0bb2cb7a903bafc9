"""Websocket helpers: real ASGI application, real services, one hub per test loop."""

import asyncio
import json
from urllib.parse import urlencode

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections

from accounts.services import token_for
from huiliao_site.asgi import application
from history.hub import get_hub

TIMEOUT = 5


@pytest.fixture(autouse=True)
async def _hub_per_test():
    """Each test runs on its own event loop: close that loop's hub when the test ends, so
    no subscription or task outlives it."""
    yield
    await get_hub().close()
    await asyncio.sleep(0)
    # The sync worker thread keeps its connection (CONN_MAX_AGE); let the test DB go.
    await database_sync_to_async(connections.close_all)()


async def token_header(user) -> list[tuple[bytes, bytes]]:
    key = await database_sync_to_async(token_for)(user=user)
    return [(b"authorization", f"Token {key}".encode())]


async def open_socket(
    code: str, user=None, *, after_seq: int | None = None, headers=None, app=application
) -> WebsocketCommunicator:
    """Connect (as `user`, by token) and return the communicator; handshake accepted."""
    path = f"/ws/rooms/{code}/"
    if after_seq is not None:
        path += "?" + urlencode({"after_seq": after_seq})
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
