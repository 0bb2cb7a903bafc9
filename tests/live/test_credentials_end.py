"""A socket ends with the credentials it was opened with: logout, a revoked token and a
deactivated account close the user's sockets with 4401, token and session sockets alike."""

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import Client
from rest_framework.authtoken.models import Token

from accounts.models import User
from tests.factories import RoomFactory, join
from tests.helpers import api_client_for
from tests.live.helpers import open_member_socket, receive, receive_close, receive_until_close

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


async def test_logout_closes_the_users_sockets_in_every_room(user):
    first, second = await db(RoomFactory)(), await db(RoomFactory)()
    await db(join)(first, user)
    await db(join)(second, user)
    ws_first, _ = await open_member_socket(first.code, user)
    ws_second, _ = await open_member_socket(second.code, user)
    bystander, _ = await open_member_socket(first.code, await db(lambda: join(first).user)())

    response = await db(lambda: api_client_for(user).post("/api/v1/auth/logout"))()
    assert response.status_code == 204
    # (the first also heard the bystander arrive: a members frame, then the close)
    assert (await receive_until_close(ws_first))[1] == 4401
    assert (await receive_until_close(ws_second))[1] == 4401
    await bystander.send_json_to({"type": "ping"})
    assert await receive(bystander) == {"type": "pong"}  # nobody else is touched
    await bystander.disconnect()


async def test_browser_logout_closes_the_session_socket(room, user):
    def session_cookie():
        client = Client()
        client.force_login(user)
        return client

    client = await db(session_cookie)()
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies['sessionid'].value}"
    ws, _ = await open_member_socket(
        room.code,
        None,
        headers=[
            (b"cookie", cookie.encode()),
            (b"origin", b"http://testserver"),
            (b"host", b"testserver"),
        ],
    )
    await db(client.post)("/api/v1/auth/logout")
    assert await receive_close(ws) == 4401


async def test_a_token_deleted_by_an_operator_closes_its_sockets(room, user):
    ws, _ = await open_member_socket(room.code, user)
    await db(lambda: Token.objects.filter(user=user).delete())()
    assert await receive_close(ws) == 4401


async def test_a_deactivated_account_loses_its_sockets(room, user):
    ws, _ = await open_member_socket(room.code, user)

    def deactivate():
        account = User.objects.get(pk=user.pk)
        account.is_active = False
        account.save()

    await db(deactivate)()
    assert await receive_close(ws) == 4401
