"""The live protocol through the real ASGI application (auth middleware, routing, hub)."""

import asyncio
import datetime as dt
import threading

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from history import consumers as history_consumers
from history import selectors as history_selectors
from history import services as history_services
from history.live.registry import get_hub
from history.models import Message
from huiliao_site.asgi import application
from rooms import services as room_services
from rooms.models import Membership, Room
from rooms.protocol import iso_datetime
from tests.factories import RoomFactory, UserFactory, join, post
from tests.helpers import expected_message_frame
from tests.live.helpers import (
    open_member_socket,
    open_socket,
    receive,
    receive_close,
    receive_until_close,
    store_unpublished,
)

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


def stored(room: Room, seq: int) -> Message:
    return Message.objects.select_related("sender").get(room=room, seq=seq)


def member_id_of(room: Room, user) -> str:
    return Membership.objects.get(room=room, user=user).member_id


async def expected_hello(room: Room, user, *, last_seq: int, members: int, online: int = 1) -> dict:
    """The exact hello frame `user` gets (spelled out, not built by the code under test):
    `online` counts the members with a socket in the room, this one included."""
    return {
        "type": "hello",
        "room": room.code,
        "last_seq": last_seq,
        "members": members,
        "online": online,
        "my_member_id": await db(member_id_of)(room, user),
    }


def make_member(room: Room, name: str):
    return join(room, UserFactory(nickname=name), display_name=name).user


# --- connecting ---------------------------------------------------------------------------


async def test_connect_member_gets_hello_first(room, user):
    other = await db(make_member)(room, "Ann")
    communicator = await open_socket(room.code, other)
    assert await receive(communicator) == await expected_hello(room, other, last_seq=1, members=2)
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_connect_without_credentials_closes_4401(room):
    communicator = await open_socket(room.code)
    assert await receive_close(communicator) == 4401


async def test_connect_with_unknown_token_closes_4401(room):
    communicator = await open_socket(room.code, headers=[(b"authorization", b"Token nope")])
    assert await receive_close(communicator) == 4401


async def test_connect_unknown_room_closes_4404(user):
    communicator = await open_socket("ZZZZ2222", user)
    assert await receive_close(communicator) == 4404


async def test_connect_non_member_closes_4403(room):
    stranger = await db(UserFactory)()
    communicator = await open_socket(room.code, stranger)
    assert await receive_close(communicator) == 4403


async def test_connect_banned_member_closes_4403(room):
    banned = await db(make_member)(room, "Bob")
    membership = await db(Membership.objects.get)(room=room, user=banned)
    await db(room_services.membership_set_banned)(membership=membership, banned=True, actor=None)
    communicator = await open_socket(room.code, banned)
    assert await receive_close(communicator) == 4403


async def test_connect_member_who_left_closes_4403(room):
    gone = await db(make_member)(room, "Bob")
    await db(history_services.member_leave)(room=room, user=gone)
    communicator = await open_socket(room.code, gone)
    assert await receive_close(communicator) == 4403


async def test_connect_closed_room_sends_room_closed_then_4410(room, user):
    await db(room_services.room_close)(room=room, actor=None)
    communicator = await open_socket(room.code, user)
    assert await receive_until_close(communicator) == ([{"type": "room_closed"}], 4410)


async def test_connect_expired_room_sends_room_closed_then_4410(user):
    room = await db(RoomFactory)(owner=user)
    await db(Room.objects.filter(pk=room.pk).update)(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    communicator = await open_socket(room.code, user)
    assert await receive_until_close(communicator) == ([{"type": "room_closed"}], 4410)


async def test_connect_token_without_origin_is_accepted(room, user):
    communicator, hello = await open_member_socket(room.code, user)
    assert hello == await expected_hello(room, user, last_seq=0, members=1)
    await communicator.disconnect()


def _session_cookie(user) -> bytes:
    client = Client()
    user.refresh_from_db()  # the stored password hash is what the session is bound to
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def test_connect_session_from_our_origin_is_accepted(room, user):
    cookie = await db(_session_cookie)(user)
    headers = [
        (b"origin", b"http://127.0.0.1:8000"),
        (b"host", b"127.0.0.1:8000"),
        (b"cookie", cookie),
    ]
    communicator = await open_socket(room.code, headers=headers)
    assert await receive(communicator) == await expected_hello(room, user, last_seq=0, members=1)
    await communicator.disconnect()


async def test_connect_session_from_foreign_origin_closes_4401(room, user):
    cookie = await db(_session_cookie)(user)
    headers = [(b"origin", b"https://evil.example"), (b"cookie", cookie)]
    communicator = await open_socket(room.code, headers=headers)
    assert await receive_close(communicator) == 4401


async def test_connect_session_without_origin_closes_4401(room, user):
    cookie = await db(_session_cookie)(user)
    communicator = await open_socket(room.code, headers=[(b"cookie", cookie)])
    assert await receive_close(communicator) == 4401


# --- live frames --------------------------------------------------------------------------


async def test_message_reaches_every_member_once_and_no_one_else(room, user):
    ann = await db(make_member)(room, "Ann")
    other_room = await db(RoomFactory)()
    outsider = await db(make_member)(other_room, "Eve")
    owner_socket, _ = await open_member_socket(room.code, user)
    ann_socket, _ = await open_member_socket(room.code, ann)
    outsider_socket, _ = await open_member_socket(other_room.code, outsider)

    message = await db(post)(room, ann, "hello hall", client_id="c-1")
    expected = await db(lambda: expected_message_frame(stored(room, message.seq), "Ann"))()
    assert expected["message"]["seq"] == 2
    assert await receive(owner_socket) == expected
    assert await receive(ann_socket) == expected
    assert await owner_socket.receive_nothing(timeout=0.2)
    assert await ann_socket.receive_nothing(timeout=0.05)
    assert await outsider_socket.receive_nothing(timeout=0.05)
    for communicator in (owner_socket, ann_socket, outsider_socket):
        await communicator.disconnect()


async def test_hub_subscribes_once_per_room_and_unsubscribes_with_last_socket(room, user):
    ann = await db(make_member)(room, "Ann")
    first, _ = await open_member_socket(room.code, user)
    second, _ = await open_member_socket(room.code, ann)
    hub = get_hub()
    assert list(hub.feeds) == [room.code]
    assert len(hub.feeds[room.code].sockets) == 2
    await first.disconnect()
    assert len(hub.feeds[room.code].sockets) == 1
    await second.disconnect()
    assert hub.feeds == {}


async def test_send_is_stored_and_broadcast_with_client_id(room, user):
    ann = await db(make_member)(room, "Ann")
    owner_socket, _ = await open_member_socket(room.code, user)
    ann_socket, _ = await open_member_socket(room.code, ann)
    await ann_socket.send_json_to(
        {"type": "send", "body": "  from the socket ", "client_id": "abc"}
    )
    frame = await receive(ann_socket)
    expected = await db(lambda: expected_message_frame(stored(room, 2), "Ann"))()
    assert frame == expected
    assert frame["message"]["body"] == "from the socket"
    assert frame["message"]["client_id"] == "abc"
    assert await receive(owner_socket) == expected
    for communicator in (owner_socket, ann_socket):
        await communicator.disconnect()


async def test_send_same_client_id_returns_stored_message_to_sender_only(room, user):
    ann = await db(make_member)(room, "Ann")
    owner_socket, _ = await open_member_socket(room.code, user)
    ann_socket, _ = await open_member_socket(room.code, ann)
    frame = {"type": "send", "body": "once", "client_id": "same"}
    await ann_socket.send_json_to(frame)
    first = await receive(ann_socket)
    assert await receive(owner_socket) == first
    await ann_socket.send_json_to(dict(frame, body="changed"))
    assert await receive(ann_socket) == first
    assert await owner_socket.receive_nothing(timeout=0.3)
    assert await db(Message.objects.filter(room=room, client_id="same").count)() == 1
    for communicator in (owner_socket, ann_socket):
        await communicator.disconnect()


@pytest.mark.parametrize(
    ("frame", "code", "detail"),
    [
        (
            {"type": "send", "body": "   ", "client_id": "x"},
            "invalid_body",
            "body must not be blank.",
        ),
        ({"type": "send", "body": 5, "client_id": "x"}, "invalid_body", "body must be a string."),
        (
            {"type": "send", "body": "hi"},
            "invalid_client_id",
            "client_id is required (a fresh UUID per message).",
        ),
        ({"type": "dance"}, "invalid", "Unknown frame type 'dance'."),
        ({"type": "resume", "after_seq": "3"}, "invalid", "after_seq must be a whole number ≥ 0."),
        ({"no": "type"}, "invalid", "Send a JSON object with a type."),
    ],
)
async def test_bad_frame_gets_error_and_socket_stays_open(room, user, frame, code, detail):
    communicator, _ = await open_member_socket(room.code, user)
    await communicator.send_json_to(frame)
    assert await receive(communicator) == {"type": "error", "code": code, "detail": detail}
    await communicator.send_json_to({"type": "ping"})
    assert await receive(communicator) == {"type": "pong"}
    await communicator.disconnect()


async def test_invalid_json_gets_error(room, user):
    communicator, _ = await open_member_socket(room.code, user)
    await communicator.send_to(text_data="{not json")
    assert await receive(communicator) == {
        "type": "error",
        "code": "invalid",
        "detail": "Send a JSON object with a type.",
    }
    await communicator.disconnect()


async def test_send_while_muted_gets_muted_error(room, user):
    ann = await db(make_member)(room, "Ann")
    membership = await db(Membership.objects.get)(room=room, user=ann)
    membership = await db(room_services.membership_mute)(
        membership=membership, minutes=5, actor=None
    )
    communicator, _ = await open_member_socket(room.code, ann)
    await communicator.send_json_to({"type": "send", "body": "hi", "client_id": "m"})
    assert await receive(communicator) == {
        "type": "error",
        "code": "muted",
        "detail": f"You are muted until {membership.muted_until.isoformat()}.",
    }
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_send_over_the_throttle_gets_rate_limited_error(room, user, settings):
    settings.HUILIAO_POST_RATE_COUNT = 2
    communicator, _ = await open_member_socket(room.code, user)
    for n in range(2):
        await communicator.send_json_to({"type": "send", "body": f"m{n}", "client_id": f"t{n}"})
        assert (await receive(communicator))["message"]["body"] == f"m{n}"
    await communicator.send_json_to({"type": "send", "body": "m2", "client_id": "t2"})
    assert await receive(communicator) == {
        "type": "error",
        "code": "rate_limited",
        "detail": "Slow down: at most 2 messages every 10 s.",
        "retry_after": 10,
    }
    await communicator.disconnect()


async def test_ping_gets_pong(room, user):
    communicator, _ = await open_member_socket(room.code, user)
    await communicator.send_json_to({"type": "ping"})
    assert await receive(communicator) == {"type": "pong"}
    await communicator.disconnect()


async def test_announcement_frame(room, user):
    communicator, _ = await open_member_socket(room.code, user)
    room = await db(room_services.announcement_set)(
        room=room, text=" Keynote moved to hall B ", actor=None
    )
    assert await receive(communicator) == {
        "type": "announcement",
        "announcement": {
            "text": "Keynote moved to hall B",
            "updated_at": iso_datetime(room.announcement_updated_at),
        },
    }
    await communicator.disconnect()


async def test_join_sends_members_and_system_message(room, user):
    communicator, _ = await open_member_socket(room.code, user)
    ann = await db(make_member)(room, "Ann")
    frames = [await receive(communicator), await receive(communicator)]
    joined = await db(lambda: expected_message_frame(stored(room, 1)))()
    assert joined["message"]["body"] == "Ann joined"
    assert sorted(frames, key=lambda f: f["type"]) == [
        {"type": "members", "count": 2, "online": 1},
        joined,
    ]
    assert ann is not None
    await communicator.disconnect()


async def test_message_hidden_and_restored_frames(room, user):
    communicator, _ = await open_member_socket(room.code, user)
    message = await db(post)(room, user, "oops", client_id="h")
    await receive(communicator)
    await db(history_services.message_set_hidden)(message=message, hidden=True, actor=None)
    assert await receive(communicator) == {"type": "message_hidden", "seq": 1}
    await db(history_services.message_set_hidden)(message=message, hidden=False, actor=None)
    restored = await db(lambda: expected_message_frame(stored(room, 1), user.nickname))()
    assert await receive(communicator) == {
        "type": "message_restored",
        "message": restored["message"],
    }
    await communicator.disconnect()


async def test_room_closed_frame_then_4410_for_everyone(room, user):
    ann = await db(make_member)(room, "Ann")
    owner_socket, _ = await open_member_socket(room.code, user)
    ann_socket, _ = await open_member_socket(room.code, ann)
    await db(room_services.room_close)(room=room, actor=None)
    assert await receive_until_close(owner_socket) == ([{"type": "room_closed"}], 4410)
    assert await receive_until_close(ann_socket) == ([{"type": "room_closed"}], 4410)
    assert get_hub().feeds == {}


async def test_room_expiring_while_open_sends_room_closed_then_4410(user):
    expires_at = timezone.now() + dt.timedelta(seconds=1.5)
    room = await db(RoomFactory)(owner=user)
    await db(Room.objects.filter(pk=room.pk).update)(expires_at=expires_at)
    communicator, _ = await open_member_socket(room.code, user)
    frames, code = await receive_until_close(communicator)
    assert (frames, code) == ([{"type": "room_closed"}], 4410)
    assert timezone.now() >= expires_at


async def test_leave_closes_that_members_sockets_4403(room, user):
    ann = await db(make_member)(room, "Ann")
    owner_socket, _ = await open_member_socket(room.code, user)
    ann_phone, _ = await open_member_socket(room.code, ann)
    ann_laptop, _ = await open_member_socket(room.code, ann)
    await db(history_services.member_leave)(room=room, user=ann)
    assert await receive_close(ann_phone) == 4403
    assert await receive_close(ann_laptop) == 4403
    left = await db(lambda: expected_message_frame(stored(room, 2)))()
    frames = [await receive(owner_socket), await receive(owner_socket)]
    assert sorted(frames, key=lambda f: f["type"]) == [
        {"type": "members", "count": 1, "online": 1},
        left,
    ]
    await owner_socket.disconnect()


async def test_ban_closes_that_members_sockets_4403(room, user):
    ann = await db(make_member)(room, "Ann")
    owner_socket, _ = await open_member_socket(room.code, user)
    ann_socket, _ = await open_member_socket(room.code, ann)
    membership = await db(Membership.objects.get)(room=room, user=ann)
    await db(room_services.membership_set_banned)(membership=membership, banned=True, actor=None)
    updated = {
        "type": "member_updated",
        "member_id": membership.member_id,
        "role": "member",
        "muted_until": None,
        "banned": True,
    }
    assert await receive_until_close(ann_socket) == ([updated], 4403)
    assert await receive(owner_socket) == updated
    assert await receive(owner_socket) == {"type": "members", "count": 1, "online": 1}
    await owner_socket.disconnect()


async def test_idle_socket_is_closed_and_pinging_socket_is_not(room, user, settings):
    settings.HUILIAO_WS_IDLE_TIMEOUT = 1
    silent, _ = await open_member_socket(room.code, user)
    chatty, _ = await open_member_socket(room.code, user)
    for _ in range(6):
        await chatty.send_json_to({"type": "ping"})
        assert await receive(chatty) == {"type": "pong"}
        await asyncio.sleep(0.3)
    assert await receive_close(silent) == 4408
    await chatty.disconnect()


# --- resume -------------------------------------------------------------------------------


def post_many(room: Room, user, count: int, prefix: str = "m") -> None:
    for n in range(count):
        post(room, user, f"{prefix}{n}", client_id=f"{prefix}{n}")


async def test_resume_after_seq_replays_in_order_then_live(room, user, settings):
    settings.HUILIAO_POST_RATE_COUNT = 1000
    await db(post_many)(room, user, 5)
    communicator, hello = await open_member_socket(room.code, user, after_seq=2)
    assert hello == await expected_hello(room, user, last_seq=5, members=1)
    expected = await db(
        lambda: [expected_message_frame(stored(room, s), user.nickname) for s in (3, 4, 5)]
    )()
    assert [await receive(communicator) for _ in range(3)] == expected
    await db(post)(room, user, "live", client_id="live")
    assert (await receive(communicator))["message"]["seq"] == 6
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_resume_frame_replays_from_the_given_seq(room, user, settings):
    settings.HUILIAO_POST_RATE_COUNT = 1000
    communicator, _ = await open_member_socket(room.code, user)
    await db(post_many)(room, user, 3)
    assert [(await receive(communicator))["message"]["seq"] for _ in range(3)] == [1, 2, 3]
    await communicator.send_json_to({"type": "resume", "after_seq": 1})
    assert [(await receive(communicator))["message"]["seq"] for _ in range(2)] == [2, 3]
    await db(post)(room, user, "live", client_id="live")
    assert (await receive(communicator))["message"]["seq"] == 4
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_resume_after_seq_beyond_last_seq_still_gets_live_messages(room, user):
    communicator, hello = await open_member_socket(room.code, user, after_seq=1000)
    assert hello["last_seq"] == 0
    await db(post)(room, user, "after a purge", client_id="p1")
    assert (await receive(communicator))["message"]["seq"] == 1
    await communicator.send_json_to({"type": "resume", "after_seq": 500})
    await db(post)(room, user, "still live", client_id="p2")
    assert (await receive(communicator))["message"]["seq"] == 2
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


def _post_before_the_replay_read(monkeypatch, name, room, user):
    """Commit a message after the client asked, just before its replay is read: the
    moment a message can be counted as replayed but not be in the replay."""
    real = getattr(history_consumers, name)

    def posted_then_read(**kwargs):
        post(room, user, "meanwhile", client_id="meanwhile")
        return real(**kwargs)

    monkeypatch.setattr(history_consumers, name, posted_then_read)


async def test_resume_ahead_of_the_room_gets_a_message_committed_while_it_was_read(
    room, user, monkeypatch
):
    communicator, _ = await open_member_socket(room.code, user)
    await db(post)(room, user, "seen", client_id="p1")
    assert (await receive(communicator))["message"]["seq"] == 1
    _post_before_the_replay_read(monkeypatch, "_replay", room, user)
    await communicator.send_json_to({"type": "resume", "after_seq": 500})
    frame = await receive(communicator)
    assert (frame["message"]["seq"], frame["message"]["body"]) == (2, "meanwhile")
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_connect_ahead_of_the_room_gets_a_message_committed_while_it_was_read(
    room, user, monkeypatch
):
    _post_before_the_replay_read(monkeypatch, "_open_with_replay", room, user)
    communicator, hello = await open_member_socket(room.code, user, after_seq=1000)
    assert hello["last_seq"] == 1
    frame = await receive(communicator)
    assert (frame["message"]["seq"], frame["message"]["body"]) == (1, "meanwhile")
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_resume_beyond_limit_sends_newest_and_truncated_hint(room, user, settings):
    settings.HUILIAO_POST_RATE_COUNT = 1000
    settings.HUILIAO_RESUME_LIMIT = 5
    await db(post_many)(room, user, 8)
    communicator, _ = await open_member_socket(room.code, user, after_seq=0)
    assert await receive(communicator) == {"type": "resume_truncated", "first_seq": 4}
    assert [(await receive(communicator))["message"]["seq"] for _ in range(5)] == [4, 5, 6, 7, 8]
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_resume_with_messages_arriving_mid_replay_has_no_gap_or_duplicate(
    room, user, settings
):
    settings.HUILIAO_POST_RATE_COUNT = 10_000
    settings.HUILIAO_RESUME_LIMIT = 10_000
    await db(post_many)(room, user, 300, prefix="old")
    writer = await db(make_member)(room, "Writer")  # seq 301 is "Writer joined"
    done = threading.Event()

    def keep_posting():
        from django.db import connection

        try:
            post_many(room, writer, 150, prefix="new")
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=keep_posting)
    thread.start()
    try:
        communicator, _ = await open_member_socket(room.code, user, after_seq=0)
        seqs = []
        while len(seqs) < 451:
            frame = await receive(communicator)
            assert frame["type"] in {"message", "members"}, frame
            if frame["type"] == "message":
                seqs.append(frame["message"]["seq"])
    finally:
        await asyncio.to_thread(thread.join)
    assert seqs == list(range(1, 452))
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


# --- the hub's repairs --------------------------------------------------------------------


async def test_hub_fills_a_gap_from_the_database(room, user):
    communicator, _ = await open_member_socket(room.code, user)
    await db(store_unpublished)(room, user, "lost-1")
    await db(store_unpublished)(room, user, "lost-2")
    await db(post)(room, user, "seen", client_id="seen")
    frames = [await receive(communicator) for _ in range(3)]
    assert [(f["message"]["seq"], f["message"]["body"]) for f in frames] == [
        (1, "lost-1"),
        (2, "lost-2"),
        (3, "seen"),
    ]
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_hub_fills_a_lost_tail_on_its_periodic_check(room, user, settings):
    settings.HUILIAO_HUB_CHECK_SECONDS = 1
    communicator, _ = await open_member_socket(room.code, user)
    await db(store_unpublished)(room, user, "lost")
    frame = await receive(communicator)
    assert (frame["message"]["seq"], frame["message"]["body"]) == (1, "lost")
    await communicator.disconnect()


async def test_hub_drops_a_duplicate_event(room, user):
    from rooms.events import send_now

    communicator, _ = await open_member_socket(room.code, user)
    message = await db(post)(room, user, "once", client_id="once")
    frame = await receive(communicator)
    await db(send_now)(room.code, frame)  # the layer delivers it a second time
    assert await communicator.receive_nothing(timeout=0.3)
    assert message.seq == 1
    await communicator.disconnect()


# --- slow consumers -----------------------------------------------------------------------


class StalledServer:
    """The ASGI app behind a server whose sends stop completing once `stall` is set (a
    client that stopped reading, as a server with back-pressure sees it)."""

    def __init__(self, app):
        self.app = app
        self.stall = False
        self.resume = asyncio.Event()

    async def __call__(self, scope, receive, send):
        async def slow_send(message):
            if self.stall:
                await self.resume.wait()
            await send(message)

        return await self.app(scope, receive, slow_send)


async def test_slow_socket_is_cut_off_4408_without_stalling_others(room, user, settings):
    settings.HUILIAO_POST_RATE_COUNT = 1000
    settings.HUILIAO_WS_BACKLOG_KB = 1  # about three message frames
    stalled = StalledServer(application)
    slow, _ = await open_member_socket(room.code, user, app=stalled)
    fast, _ = await open_member_socket(room.code, user)
    stalled.stall = True
    await db(post_many)(room, user, 6)
    assert [(await receive(fast))["message"]["seq"] for _ in range(6)] == [1, 2, 3, 4, 5, 6]
    stalled.resume.set()
    frames, code = await receive_until_close(slow)
    assert code == 4408
    assert [f["message"]["seq"] for f in frames] == [1]
    await fast.disconnect()


async def test_unknown_path_is_refused(user):
    communicator = WebsocketCommunicator(application, "/ws/nowhere/")
    with pytest.raises(ValueError, match="No route found"):
        await communicator.connect(timeout=1)


# --- socket inputs and access rules found in review ----------------------------------------


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


async def test_send_after_room_was_extended_past_its_old_expiry_is_stored(user):
    room = await db(RoomFactory)(owner=user)
    await db(Room.objects.filter(pk=room.pk).update)(
        expires_at=timezone.now() + dt.timedelta(seconds=3)  # room to connect on a busy machine
    )
    communicator, _ = await open_member_socket(room.code, user)
    await db(room_services.room_extend)(room=room, by=dt.timedelta(days=1), actor=None)
    extended = await receive(communicator)
    await db(room.refresh_from_db)()
    assert extended == {
        "type": "room_updated",
        "room": {
            "name": room.name,
            "expires_at": iso_datetime(room.expires_at),
            "slow_mode_seconds": 0,
            "posting": "everyone",
        },
    }
    await asyncio.sleep(3.5)
    await communicator.send_json_to({"type": "send", "body": "still here", "client_id": "e1"})
    frame = await receive(communicator)
    while frame["type"] == "members":  # the hub's check may tell the online count first
        frame = await receive(communicator)
    assert (frame["type"], frame["message"]["seq"], frame["message"]["body"]) == (
        "message",
        1,
        "still here",
    )
    await communicator.disconnect()


async def test_send_after_room_closed_without_push_gets_room_closed(room, user, settings):
    # Before the hub's own periodic re-read could notice the close and end the socket:
    # its one read is the subscription's (done once the feed is ready), and no other comes.
    settings.HUILIAO_HUB_CHECK_SECONDS = 3600
    communicator, _ = await open_member_socket(room.code, user)
    await get_hub().feeds[room.code].ready
    # Closed behind the hub's back (as when a Redis outage lost the room_closed push).
    await db(Room.objects.filter(pk=room.pk).update)(closed_at=timezone.now())
    await communicator.send_json_to({"type": "send", "body": "late", "client_id": "c1"})
    assert await receive(communicator) == {
        "type": "error",
        "code": "room_closed",
        "detail": "This room has been closed.",
    }
    assert await db(Message.objects.filter(room=room).count)() == 0
    await communicator.disconnect()


def _open_room_then(monkeypatch, action):
    """Run `action` right after the handshake's one read, before the socket has a user the
    hub can match: the moment a concurrent ban, leave or close can slip through."""
    real = history_selectors.sockets_open

    def sockets_open(**kwargs):
        results = real(**kwargs)
        for opened in results:
            action(opened.room)
        return results

    monkeypatch.setattr(history_selectors, "sockets_open", sockets_open)


async def test_ban_landing_during_connect_closes_the_socket_4403(room, user, monkeypatch):
    ann = await db(make_member)(room, "Ann")

    def ban(room):
        membership = Membership.objects.get(room=room, user=ann)
        room_services.membership_set_banned(membership=membership, banned=True, actor=None)

    _open_room_then(monkeypatch, ban)
    communicator = await open_socket(room.code, ann)
    frames, code = await receive_until_close(communicator)
    # Whether the ban's event beats the hello or follows it, the socket ends closed.
    assert code == 4403
    # (member_updated, saying the ban, comes before the order to close the sockets.)
    assert [frame["type"] for frame in frames] in (
        [],
        ["hello"],
        ["hello", "member_updated"],
        ["hello", "members"],
    )


async def test_leave_landing_during_connect_closes_the_socket_4403(room, user, monkeypatch):
    ann = await db(make_member)(room, "Ann")
    _open_room_then(monkeypatch, lambda room: history_services.member_leave(room=room, user=ann))
    communicator = await open_socket(room.code, ann)
    frames, code = await receive_until_close(communicator)
    assert code == 4403
    # At most the hello and the notice of Ann's own leaving, never anything after it.
    assert [frame.get("message", {}).get("body") for frame in frames][1:] in ([], ["Ann left"])


async def test_close_landing_during_connect_sends_room_closed_4410(room, user, monkeypatch):
    _open_room_then(
        monkeypatch,
        lambda room: room_services.room_close(room=Room.objects.get(pk=room.pk), actor=None),
    )
    communicator = await open_socket(room.code, user)
    frames, code = await receive_until_close(communicator)
    assert (frames[-1], code) == ({"type": "room_closed"}, 4410)
    assert [frame["type"] for frame in frames[:-1]] in ([], ["hello"])


async def test_deeply_nested_json_gets_error_and_socket_stays_open(room, user):
    communicator, _ = await open_member_socket(room.code, user)
    await communicator.send_to(text_data="[" * 100_000 + "]" * 100_000)
    assert await receive(communicator) == {
        "type": "error",
        "code": "invalid",
        "detail": "Send a JSON object with a type.",
    }
    await communicator.send_json_to({"type": "ping"})
    assert await receive(communicator) == {"type": "pong"}
    await communicator.disconnect()


async def test_events_reach_the_consumer_without_a_hop_to_the_sync_thread(room, user, monkeypatch):
    # Channels closes stale database connections before every event it dispatches, in its
    # one sync thread: a thread hop per handshake and per received frame, all through one
    # thread. The room consumer does its database work in in_db_thread, which closes its
    # own connections, and skips the hop.
    import channels.consumer
    from channels.generic.websocket import AsyncWebsocketConsumer

    hops = []

    async def counted():
        hops.append("hop")

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted)
    communicator, _ = await open_member_socket(room.code, user)
    await communicator.send_json_to({"type": "ping"})
    assert await receive(communicator) == {"type": "pong"}
    await communicator.send_json_to({"type": "send", "body": "straight", "client_id": "c1"})
    frame = await receive(communicator)
    while frame["type"] == "members":
        frame = await receive(communicator)
    assert (frame["type"], frame["message"]["body"]) == ("message", "straight")
    await communicator.disconnect()
    assert hops == []
    # Channels' own consumers do hop: the count above is the real one.
    plain = WebsocketCommunicator(AsyncWebsocketConsumer.as_asgi(), "/")
    connected, _ = await plain.connect()
    assert connected
    await plain.disconnect()
    assert hops
