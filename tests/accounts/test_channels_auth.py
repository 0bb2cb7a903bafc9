"""The websocket auth middleware, in front of a tiny ASGI app that echoes what it was told.

Real middleware, real DRF tokens and real Django sessions; no consumer involved."""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections
from django.test import Client
from rest_framework.test import APIClient

from accounts.channels_auth import WebsocketAuthMiddleware, user_for_credentials
from accounts.models import User
from accounts.services import token_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

ANONYMOUS = {"user": None, "authenticated": False, "auth_method": None}


@pytest.fixture(autouse=True)
async def _close_worker_connections():
    # The middleware's queries run in asgiref's worker thread, whose connection outlives
    # the test (CONN_MAX_AGE) and would keep PostgreSQL from dropping the test database.
    yield
    await sync_to_async(connections.close_all)()


async def echo_app(scope, receive, send):
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    credentials = scope["credentials"]
    user = await sync_to_async(user_for_credentials)(credentials)
    frame = {
        "user": str(user.pk) if user.pk else None,
        "authenticated": user.is_authenticated,
        "auth_method": credentials.method if user.is_authenticated else None,
    }
    await send({"type": "websocket.send", "text": json.dumps(frame)})
    while (await receive())["type"] != "websocket.disconnect":
        pass


async def who(*headers: tuple[str, str], scheme: str = "ws") -> dict:
    communicator = WebsocketCommunicator(
        WebsocketAuthMiddleware(echo_app),
        "/ws/rooms/ABCD2345/",
        headers=[(name.encode(), value.encode()) for name, value in headers],
    )
    communicator.scope["scheme"] = scheme  # before the first await: the app reads it then
    connected, _ = await communicator.connect()
    assert connected
    frame = await communicator.receive_json_from()
    await communicator.disconnect()
    return frame


def as_user(user: User, method: str) -> dict:
    return {"user": str(user.pk), "authenticated": True, "auth_method": method}


@pytest.fixture
def person(db) -> User:
    return UserFactory()


@pytest.fixture
def token(person) -> str:
    return token_for(user=person)


@pytest.fixture
def session_cookie(person) -> tuple[str, str]:
    client = Client()
    client.force_login(person)
    return (
        "cookie",
        f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}",
    )


async def test_ws_auth_token_without_origin_is_user(person, token):
    assert await who(("authorization", f"Token {token}")) == as_user(person, "token")


async def test_ws_auth_token_scheme_is_case_insensitive(person, token):
    assert await who(("authorization", f"token {token}")) == as_user(person, "token")


async def test_ws_auth_bad_token_is_anonymous(token):
    assert (
        await who(("authorization", "Token 0000000000000000000000000000000000000000")) == ANONYMOUS
    )


async def test_ws_auth_empty_token_is_anonymous(token):
    assert await who(("authorization", "Token ")) == ANONYMOUS


async def test_ws_auth_token_of_inactive_user_is_anonymous(person, token):
    await User.objects.filter(pk=person.pk).aupdate(is_active=False)
    assert await who(("authorization", f"Token {token}")) == ANONYMOUS


async def test_ws_auth_bad_token_does_not_fall_back_to_session(token, session_cookie):
    # An explicit (wrong) token is the client's choice of identity; no silent session.
    frame = await who(
        ("authorization", "Token nope"),
        session_cookie,
        ("origin", "http://testserver"),
        ("host", "testserver"),
    )
    assert frame == ANONYMOUS


async def test_ws_auth_session_from_our_origin_is_user(person, session_cookie):
    frame = await who(session_cookie, ("origin", "http://testserver"), ("host", "testserver"))
    assert frame == as_user(person, "session")


async def test_ws_auth_session_same_origin_with_port_is_user(person, session_cookie):
    frame = await who(
        session_cookie, ("origin", "http://127.0.0.1:48123"), ("host", "127.0.0.1:48123")
    )
    assert frame == as_user(person, "session")


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://localhost:8000", None),  # an allowed name, but not this socket's host
        ("https://127.0.0.1", "127.0.0.1:18431"),  # another scheme and port of our host
        ("http://127.0.0.1:9999", "127.0.0.1:18431"),  # another port
        ("https://testserver", "testserver"),  # https page, plain ws socket
    ],
)
async def test_ws_auth_session_needs_scheme_host_and_port_to_match(session_cookie, origin, host):
    headers = [session_cookie, ("origin", origin)] + ([("host", host)] if host else [])
    assert await who(*headers) == ANONYMOUS


async def test_ws_auth_session_https_page_on_wss_is_user(person, session_cookie):
    frame = await who(
        session_cookie, ("origin", "https://testserver"), ("host", "testserver"), scheme="wss"
    )
    assert frame == as_user(person, "session")


async def test_ws_auth_forwarded_proto_counts_only_behind_a_proxy(person, session_cookie, settings):
    headers = [
        session_cookie,
        ("origin", "https://testserver"),
        ("host", "testserver"),
        ("x-forwarded-proto", "https"),
    ]
    assert await who(*headers) == ANONYMOUS
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert await who(*headers) == as_user(person, "session")


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://testserver.evil.example",
        "null",
        "file://",
        "chrome-extension://abc",
    ],
)
async def test_ws_auth_session_from_foreign_origin_is_anonymous(session_cookie, origin):
    assert await who(session_cookie, ("origin", origin), ("host", "testserver")) == ANONYMOUS


async def test_ws_auth_session_without_origin_is_anonymous(session_cookie):
    assert await who(session_cookie, ("host", "testserver")) == ANONYMOUS


async def test_ws_auth_session_foreign_origin_with_wildcard_allowed_hosts_is_anonymous(
    person, session_cookie, settings
):
    settings.ALLOWED_HOSTS = ["*"]
    assert (
        await who(session_cookie, ("origin", "https://evil.example"), ("host", "chat.example.com"))
        == ANONYMOUS
    )
    same_origin = await who(
        session_cookie,
        ("origin", "https://chat.example.com"),
        ("host", "chat.example.com"),
        scheme="wss",
    )
    assert same_origin == as_user(person, "session")


async def test_ws_auth_session_from_csrf_trusted_origin_is_user(person, session_cookie, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com", "https://*.example.org"]
    for origin in ("https://chat.example.com", "https://app.example.org"):
        assert await who(session_cookie, ("origin", origin)) == as_user(person, "session")
    assert await who(session_cookie, ("origin", "http://app.example.org")) == ANONYMOUS
    assert await who(session_cookie, ("origin", "https://example.org.evil.example")) == ANONYMOUS


async def test_ws_auth_tampered_session_is_anonymous(session_cookie):
    name, value = session_cookie
    frame = await who((name, value[:-4] + "abcd"), ("origin", "http://testserver"))
    assert frame == ANONYMOUS


async def test_ws_auth_session_after_password_change_is_anonymous(person, session_cookie):
    # Django ends sessions when the password changes; the socket must agree.
    person.set_password("a different passphrase")
    await person.asave(update_fields=["password"])
    assert await who(session_cookie, ("origin", "http://testserver")) == ANONYMOUS


async def test_ws_auth_no_credentials_is_anonymous():
    assert await who() == ANONYMOUS
    assert await who(("origin", "http://testserver"), ("host", "testserver")) == ANONYMOUS


# --- A NUL in a token ----------------------------------------------------------------------


@pytest.mark.django_db
def test_api_token_with_nul_is_401(postgres):
    response = APIClient().get("/api/v1/me", HTTP_AUTHORIZATION="Token abc\x00def")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token.", "code": "authentication_failed"}


@pytest.mark.django_db(transaction=True)
async def test_ws_auth_token_with_nul_is_anonymous(postgres):
    assert await who(("authorization", "Token abc\x00def")) == ANONYMOUS
