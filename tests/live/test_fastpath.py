"""One delivery path and one set of bounds for every socket, behind a real Daphne.

On whichever configuration the suite runs: the embedded defaults (SQLite, in-process
layer) or PostgreSQL + Redis. Both socket kinds: token (the mini-program) and session
cookie with our Origin (the browser pages)."""

import asyncio
import json
import socket
import time

import httpx
import pytest
from channels.db import database_sync_to_async
from django.conf import settings as django_settings
from django.test import Client
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from accounts.services import token_for
from tests.factories import UserFactory, join
from tests.live.helpers import store_unpublished
from tests.servers import DaphneProcess, raise_open_files_limit, server_env

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async
KINDS = ["token", "session"]
LONG = "会" * 2000  # about 6 KB on the wire


@pytest.fixture
def server(daphne_pool):
    """Start a Daphne on the test database: `server(**env_overrides)`; with Redis only
    when the test database is PostgreSQL (the embedded pair otherwise)."""

    def start(**overrides: str) -> DaphneProcess:
        env = server_env(**overrides)
        if env["DATABASE_URL"] and env.get("REDIS_URL"):
            env["REDIS_PREFIX"] = django_settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
        else:
            env.pop("REDIS_URL", None)
        return daphne_pool.start(f"d{len(daphne_pool.started)}", env)

    return start


def credentials_for(user, kind: str) -> str:
    """A token key, or a session cookie header value."""
    if kind == "token":
        return token_for(user=user)
    client = Client()
    user.refresh_from_db()
    client.force_login(user)
    return f"{django_settings.SESSION_COOKIE_NAME}={client.cookies['sessionid'].value}"


def make_members(room, count: int, kind: str) -> list[str]:
    return [
        credentials_for(join(room, UserFactory(nickname=f"M{n}")).user, kind) for n in range(count)
    ]


async def open_ws(server: DaphneProcess, code: str, kind: str, secret: str, **kwargs):
    headers = (
        {"Authorization": f"Token {secret}"}
        if kind == "token"
        else {"Cookie": secret, "Origin": server.http_base}
    )
    ws = await connect(f"{server.ws_base}/ws/rooms/{code}/", additional_headers=headers, **kwargs)
    hello = json.loads(await asyncio.wait_for(ws.recv(), 60))
    assert hello["type"] == "hello", hello
    return ws, hello


def metrics(server: DaphneProcess) -> str:
    return httpx.get(f"{server.http_base}/metrics", timeout=10).text


def metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


async def wait_for_metric(server, name: str, value: float, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if metric(await asyncio.to_thread(metrics, server), name) == value:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{name} never became {value}: {metrics(server)}")


async def test_every_socket_kind_takes_the_fast_path(server, room, user):
    daphne = await asyncio.to_thread(server)
    token = await db(credentials_for)(user, "token")
    cookie = await db(credentials_for)(user, "session")
    frozen_at_start = metric(await asyncio.to_thread(metrics, daphne), "huiliao_gc_frozen_objects")
    assert frozen_at_start > 0  # the imports, frozen at start-up
    token_ws, _ = await open_ws(daphne, room.code, "token", token)
    session_ws, _ = await open_ws(daphne, room.code, "session", cookie)
    text = await asyncio.to_thread(metrics, daphne)
    assert metric(text, 'huiliao_sockets_open{kind="token",path="direct"}') == 1.0
    assert metric(text, 'huiliao_sockets_open{kind="session",path="direct"}') == 1.0
    assert metric(text, 'huiliao_sockets_open{kind="session",path="asgi"}') is None
    await token_ws.send(json.dumps({"type": "send", "body": "hi", "client_id": "c1"}))
    for ws in (token_ws, session_ws):
        frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert (frame["type"], frame["message"]["body"]) == ("message", "hi")
    # Once the joins settle, the sockets' state is frozen out of the collector's passes.
    await wait_for_metric_above(daphne, "huiliao_gc_frozen_objects", frozen_at_start)
    await token_ws.close()
    await session_ws.close()
    log = daphne.log()
    assert "live path: direct (frame bytes written to the TCP socket" in log
    assert "settled sockets frozen out of the garbage collector's passes" in log


async def wait_for_metric_above(server, name: str, floor: float, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if metric(await asyncio.to_thread(metrics, server), name) > floor:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{name} never rose above {floor}: {metrics(server)}")


async def test_frames_handled_in_one_turn_reach_each_socket_in_one_write(server, room, user):
    """A gap filled from the database hands the sockets several frames in one turn (as a
    process catching up does): each socket gets them in order, once, in one write."""
    daphne = await asyncio.to_thread(server, HUILIAO_HUB_CHECK_SECONDS="3600")
    [cookie] = await db(make_members)(room, 1, "session")  # its join notice is seq 1
    token_ws, _ = await open_ws(daphne, room.code, "token", await db(token_for)(user=user))
    session_ws, _ = await open_ws(daphne, room.code, "session", cookie)
    for body in ("lost-1", "lost-2", "lost-3"):
        await db(store_unpublished)(room, user, body)
    await token_ws.send(json.dumps({"type": "send", "body": "seen", "client_id": "seen"}))
    for ws in (token_ws, session_ws):
        frames = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(4)]
        assert [(f["message"]["seq"], f["message"]["body"]) for f in frames] == [
            (2, "lost-1"),
            (3, "lost-2"),
            (4, "lost-3"),
            (5, "seen"),
        ]
    text = await asyncio.to_thread(metrics, daphne)
    assert metric(text, "huiliao_frames_sent_together_total") == 8.0  # 4 frames x 2 sockets
    assert metric(text, "huiliao_frames_sent_total") == 8.0
    await token_ws.close()
    await session_ws.close()


async def stop_reading(daphne, code: str, kind: str, secret: str):
    """A member whose client stopped reading: a tiny receive buffer, and no reads at all."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", daphne.port))
    return await open_ws(daphne, code, kind, secret, sock=sock, max_queue=1)


async def send_long(ws, count: int, prefix: str) -> None:
    for n in range(count):
        await ws.send(json.dumps({"type": "send", "body": LONG, "client_id": f"{prefix}{n}"}))


async def drain_until_closed(ws, timeout: float = 30) -> int:
    got = 0
    with pytest.raises(ConnectionClosed):
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            got += frame["type"] == "message"
    return got


@pytest.mark.parametrize("kind", KINDS)
async def test_reader_that_stops_reading_is_cut_off_and_released(server, room, user, kind):
    daphne = await asyncio.to_thread(server, HUILIAO_WS_BACKLOG_KB="128")
    reader = await db(make_members)(room, 1, kind)
    sender, _ = await open_ws(daphne, room.code, "token", await db(token_for)(user=user))
    stalled, _ = await stop_reading(daphne, room.code, kind, reader[0])
    await send_long(sender, 100, "long")
    # The sender, reading, gets all 100; the stalled socket is cut off long before.
    got = 0
    while got < 100:
        frame = json.loads(await asyncio.wait_for(sender.recv(), 30))
        got += frame["type"] == "message"
    assert await drain_until_closed(stalled) < 100
    left = 1.0 if kind == "token" else 0.0  # the sender's socket stays
    await wait_for_metric(daphne, f'huiliao_sockets_open{{kind="{kind}",path="direct"}}', left)
    text = await asyncio.to_thread(metrics, daphne)
    assert metric(text, 'huiliao_sockets_closed_total{code="4408"}') == 1.0
    assert "socket too slow, cut off (4408)" in daphne.log()
    await sender.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_pings_do_not_keep_a_socket_that_stopped_reading(server, room, user, kind):
    # A backlog far under the limit, but left unread for the idle timeout.
    daphne = await asyncio.to_thread(server, HUILIAO_WS_IDLE_TIMEOUT="2")
    reader = await db(make_members)(room, 1, kind)
    sender, _ = await open_ws(daphne, room.code, "token", await db(token_for)(user=user))
    stalled, _ = await stop_reading(daphne, room.code, kind, reader[0])

    async def keep_reading():
        async for _ in sender:
            pass

    reading = asyncio.ensure_future(keep_reading())
    await send_long(sender, 40, "long")

    async def keep_pinging():
        for _ in range(40):
            await sender.send(json.dumps({"type": "ping"}))
            await stalled.send(json.dumps({"type": "ping"}))
            await asyncio.sleep(0.5)

    pinger = asyncio.ensure_future(keep_pinging())
    await wait_for_metric(daphne, 'huiliao_sockets_closed_total{code="4408"}', 1.0)
    pinger.cancel()
    await asyncio.gather(pinger, return_exceptions=True)
    assert await drain_until_closed(stalled) < 40
    await sender.close()
    await asyncio.gather(reading, return_exceptions=True)


@pytest.mark.parametrize("kind", KINDS)
async def test_join_burst_all_reach_hello_and_hear_the_room(server, room, user, kind):
    raise_open_files_limit(8192)
    count = 400
    secrets = await db(make_members)(room, count, kind)
    daphne = await asyncio.to_thread(server)
    sockets = await asyncio.gather(
        *(open_ws(daphne, room.code, kind, secret, open_timeout=60) for secret in secrets)
    )
    assert {hello["members"] for _, hello in sockets} == {count + 1}
    sender, _ = await open_ws(daphne, room.code, "token", await db(token_for)(user=user))
    await sender.send(json.dumps({"type": "send", "body": "welcome", "client_id": "w"}))

    async def first_message(ws):
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if frame["type"] == "message" and frame["message"]["kind"] == "text":
                return frame["message"]["body"]

    assert set(await asyncio.gather(*(first_message(ws) for ws, _ in sockets))) == {"welcome"}
    await asyncio.gather(*(ws.close() for ws, _ in sockets), sender.close())
    assert "Traceback" not in daphne.log()
