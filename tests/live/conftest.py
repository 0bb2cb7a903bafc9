"""Websocket helpers: real ASGI application, real services, one hub per test loop."""

import asyncio
import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.db import connections

from accounts.services import token_for
from history.live.registry import get_hub
from huiliao_site.asgi import application
from rooms.events import bind_server_loop
from tests.servers import DaphneProcess, database_url, server_env

TIMEOUT = 5
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True, scope="session")
def _no_persistent_connections():
    """The consumer's ORM work runs in pool threads, each with its own connection; with
    CONN_MAX_AGE they would outlive the tests and keep the test database from being
    dropped."""
    settings_dict = connections["default"].settings_dict
    before = settings_dict["CONN_MAX_AGE"]
    settings_dict["CONN_MAX_AGE"] = 0
    yield
    settings_dict["CONN_MAX_AGE"] = before


@pytest.fixture(autouse=True)
async def _hub_per_test():
    """Each test runs on its own event loop: close that loop's hub when the test ends, so
    no subscription or task outlives it."""
    yield
    await get_hub().close()
    await asyncio.sleep(0)
    # The application remembered this test's loop as "the server's"; the next test has
    # its own (this one stops, and publishing to a stopped loop is refused).
    bind_server_loop(None)
    # A server has one event loop for its life; tests have one each. channels-redis keeps
    # locks bound to the loop that first waited on them, so a layer shared across tests
    # fails in the next one ("bound to a different event loop"): start each test afresh.
    # (Its connections belong to loops that are gone; they are not closed from this one.)
    channel_layers.backends.clear()
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


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Factories hash a password per user; PBKDF2 would dominate these tests' run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- real Daphne processes ----------------------------------------------------------------


@pytest.fixture
def daphne(postgres, redis_url, daphne_pool, settings):
    """Start Daphne processes sharing the test database and Redis: `daphne("a")`."""
    settings.HUILIAO_POST_RATE_COUNT = 100_000  # these tests post faster than people do
    env = server_env(
        DATABASE_URL=database_url(settings.DATABASES["default"]),
        REDIS_URL=redis_url,
        # The same prefix as this process, which posts through the services too.
        REDIS_PREFIX=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
    )

    def start(name: str, **overrides: str) -> DaphneProcess:
        return daphne_pool.start(name, dict(env, **overrides))

    return start
