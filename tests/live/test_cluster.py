"""Several real Daphne processes on one PostgreSQL database and one Redis."""

import asyncio
import json
import socket

import httpx
import pytest
from channels.db import database_sync_to_async
from django.utils import timezone
from rest_framework.authtoken.models import Token
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from accounts.models import User
from accounts.services import token_for
from rooms.models import Membership, Room
from tests.factories import UserFactory, join, post
from tests.servers import raise_open_files_limit

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


def make_member(room: Room, name: str) -> tuple[User, str]:
    user = join(room, UserFactory(nickname=name), display_name=name).user
    return user, token_for(user=user)


def post_many(room: Room, user, count: int, prefix: str, pause: float = 0.0) -> None:
    import time

    from django.db import connection

    try:
        for n in range(count):
            post(room, user, f"{prefix}{n}", client_id=f"{prefix}{n}")
            time.sleep(pause)
    finally:
        connection.close()


def post_long(room: Room, user, count: int) -> None:
    """Messages of 6 KB each on the wire (2,000 CJK characters)."""
    for n in range(count):
        post(room, user, "会" * 2000, client_id=f"long{n}")


async def open_ws(
    base: str, code: str, key: str, after_seq: int | None = None, timeout: float = 10
):
    uri = f"{base}/ws/rooms/{code}/"
    if after_seq is not None:
        uri += f"?after_seq={after_seq}"
    ws = await connect(
        uri, additional_headers={"Authorization": f"Token {key}"}, open_timeout=timeout
    )
    hello = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    assert hello["type"] == "hello", hello
    return ws, hello


async def collect_messages(ws, count: int, timeout: float = 30) -> list[dict]:
    messages = []

    async def run():
        while len(messages) < count:
            frame = json.loads(await ws.recv())
            if frame["type"] == "message":
                messages.append(frame["message"])

    await asyncio.wait_for(run(), timeout)
    return messages


def assert_clean(*processes) -> None:
    for process in processes:
        log = process.log()
        for marker in ("Traceback", "TimeoutError", "MaxConnectionsError"):
            assert marker not in log, log[-3000:]


async def test_member_on_one_process_gets_messages_posted_through_another(daphne, room, user):
    a, b = await asyncio.gather(asyncio.to_thread(daphne, "a"), asyncio.to_thread(daphne, "b"))
    owner_key = await db(token_for)(user=user)
    ann, ann_key = await db(make_member)(room, "Ann")  # seq 1: "Ann joined"
    listener, hello = await open_ws(a.ws_base, room.code, owner_key)
    sender, _ = await open_ws(b.ws_base, room.code, ann_key)
    owner_member_id = await db(lambda: room.memberships.get(user=user).member_id)()
    assert hello == {
        "type": "hello",
        "room": room.code,
        "last_seq": 1,
        "members": 2,
        "online": 1,
        "my_member_id": owner_member_id,
    }

    async def send_over_b():
        for n in range(20):
            await sender.send(json.dumps({"type": "send", "body": f"ws{n}", "client_id": f"ws{n}"}))
            await asyncio.sleep(0.01)

    async def post_over_b_rest():
        async with httpx.AsyncClient(
            base_url=b.http_base, headers={"Authorization": f"Token {owner_key}"}
        ) as http:
            for n in range(20):
                response = await http.post(
                    f"/api/v1/rooms/{room.code}/messages",
                    json={"body": f"rest{n}", "client_id": f"rest{n}"},
                )
                assert response.status_code == 201, response.text

    await asyncio.gather(send_over_b(), post_over_b_rest())
    on_a = await collect_messages(listener, 40)
    on_b = await collect_messages(sender, 40)
    assert [m["seq"] for m in on_a] == list(range(2, 42))
    assert on_b == on_a
    assert sorted(m["body"] for m in on_a) == sorted(
        [f"ws{n}" for n in range(20)] + [f"rest{n}" for n in range(20)]
    )
    assert {m["sender"]["display_name"] for m in on_a if m["body"].startswith("ws")} == {"Ann"}
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(listener.recv(), 0.5)
    await listener.close()
    await sender.close()
    assert_clean(a, b)


async def test_client_resumes_across_a_killed_and_restarted_process(daphne, room, user):
    a = await asyncio.to_thread(daphne, "a")
    key = await db(token_for)(user=user)
    total = 80
    seqs: list[int] = []
    ws, _ = await open_ws(a.ws_base, room.code, key)
    poster = asyncio.ensure_future(db(post_many)(room, user, total, "m", 0.03))
    restarted = False
    try:
        while len(seqs) < total:
            try:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 20))
            except ConnectionClosed:
                ws = await reconnect(a, room.code, key, seqs[-1] if seqs else 0)
                continue
            if frame["type"] == "message":
                seqs.append(frame["message"]["seq"])
            if len(seqs) == 20 and not restarted:
                restarted = True
                await asyncio.to_thread(a.kill)
                await asyncio.sleep(0.5)  # messages keep being posted meanwhile
                await asyncio.to_thread(a.start)
    finally:
        await poster
    assert restarted
    assert seqs == list(range(1, total + 1))
    await ws.close()


async def reconnect(process, code: str, key: str, after_seq: int):
    for _ in range(100):
        try:
            ws, _ = await open_ws(process.ws_base, code, key, after_seq=after_seq)
            return ws
        except (TimeoutError, OSError, InvalidHandshake, ConnectionClosed):
            await asyncio.sleep(0.2)
    raise AssertionError("could not reconnect")


def make_members(room: Room, count: int) -> list[str]:
    now = timezone.now()
    users = User.objects.bulk_create(
        [
            User(username=f"burst{n}", nickname=f"Burst {n}", kind=User.Kind.GUEST, password="!")
            for n in range(count)
        ]
    )
    Membership.objects.bulk_create(
        [
            Membership.unsaved(
                room=room, user=u, display_name=u.nickname, avatar="sun", joined_at=now
            )
            for u in users
        ]
    )
    tokens = Token.objects.bulk_create([Token(key=Token.generate_key(), user=u) for u in users])
    return [token.key for token in tokens]


async def test_thousand_socket_join_burst_on_redis(daphne, room, user):
    raise_open_files_limit(8192)
    keys = await db(make_members)(room, 1000)
    a = await asyncio.to_thread(daphne, "a")
    # All at once: the handshakes queue on the server's database thread, hence the patience.
    sockets = await asyncio.gather(
        *(open_ws(a.ws_base, room.code, key, timeout=90) for key in keys)
    )
    assert {hello["members"] for _, hello in sockets} == {len(keys) + 1}
    message = await db(post)(room, user, "welcome", client_id="welcome")
    received = await asyncio.gather(*(collect_messages(ws, 1) for ws, _ in sockets))
    assert {m[0]["seq"] for m in received} == {message.seq}
    await asyncio.gather(*(ws.close() for ws, _ in sockets))
    assert_clean(a)


async def test_reader_that_stops_reading_is_cut_off_4408_behind_daphne(daphne, room, user):
    # Daphne never makes a send wait: the hub measures what the server could not write.
    a = await asyncio.to_thread(daphne, "a", HUILIAO_WS_BACKLOG_KB="100")
    key = await db(token_for)(user=user)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", a.port))
    stalled = await connect(
        f"{a.ws_base}/ws/rooms/{room.code}/",
        sock=sock,
        additional_headers={"Authorization": f"Token {key}"},
        max_queue=1,  # stop reading from the network once one frame waits
    )
    # More than the kernel buffers on loopback (about 3 MB) before the server's own.
    await db(post_long)(room, user, 700)
    got = 0
    with pytest.raises(ConnectionClosed):
        while True:
            frame = json.loads(await asyncio.wait_for(stalled.recv(), 20))
            got += frame["type"] == "message"
    assert got < 700
    assert "socket too slow, cut off (4408)" in a.log()
