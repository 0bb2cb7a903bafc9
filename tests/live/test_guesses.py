"""Guessing room codes over the socket shares the address's budget with the API and pages."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from huiliao_site.asgi import application
from tests.factories import UserFactory
from tests.live.helpers import token_header

pytestmark = pytest.mark.django_db(transaction=True)

CODES = [f"ZZZZZZZ{c}" for c in "23456789"]


async def close_code(code: str, user, address: str) -> int | str:
    """The close code the socket ends with, or "hello" when it was let in."""
    headers = await token_header(user)
    communicator = WebsocketCommunicator(application, f"/ws/rooms/{code}/", headers=headers)
    communicator.scope["client"] = (address, 50000)
    await communicator.connect()
    message = await communicator.receive_output(timeout=5)
    while message["type"] != "websocket.close":
        if '"type":"hello"' in message.get("text", ""):
            await communicator.disconnect()
            return "hello"
        message = await communicator.receive_output(timeout=5)
    return message["code"]


async def test_socket_guesses_are_cut_off_then_strangers_refused_every_code(room, user, settings):
    settings.HUILIAO_FAILED_LOOKUP_LIMIT = 5
    stranger = await database_sync_to_async(UserFactory)()
    codes = [await close_code(code, stranger, "192.0.2.50") for code in CODES[:6]]
    assert codes == [4404] * 5 + [4429]
    # The room exists: a stranger is refused as for a room that does not (not 4403), so
    # nothing is learnt; its owner behind the same address still gets in.
    assert await close_code(room.code, stranger, "192.0.2.50") == 4429
    assert await close_code(room.code, user, "192.0.2.50") == "hello"
    assert await close_code(room.code, stranger, "192.0.2.51") == 4403


async def test_page_misses_count_for_the_socket_too(room, settings):
    from django.test import Client

    settings.HUILIAO_FAILED_LOOKUP_LIMIT = 3

    def miss_pages():
        browser = Client(REMOTE_ADDR="192.0.2.60")
        return [browser.get(f"/r/{code}/").status_code for code in CODES[:3]]

    assert await database_sync_to_async(miss_pages)() == [404] * 3
    stranger = await database_sync_to_async(UserFactory)()
    assert await close_code(room.code, stranger, "192.0.2.60") == 4429
