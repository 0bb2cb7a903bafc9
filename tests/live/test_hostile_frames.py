"""Socket frames a hostile client sends: text no database can store, and a frame that
trips an unexpected error. The socket answers with an error frame and stays usable."""

import pytest
from channels.db import database_sync_to_async

from history.consumers import RESUME_BUDGET
from history.models import Message
from tests.factories import post
from tests.live.helpers import open_member_socket, receive

pytestmark = pytest.mark.django_db(transaction=True)

LONE_SURROGATE = "\ud800"


@pytest.mark.parametrize(
    ("field", "code", "detail"),
    [
        ("body", "invalid_body", "body must be valid Unicode text."),
        ("client_id", "invalid_client_id", "client_id must be valid Unicode text."),
    ],
)
async def test_lone_surrogates_are_refused_and_the_socket_lives_on(room, user, field, code, detail):
    ws, _ = await open_member_socket(room.code, user)
    frame = {"type": "send", "body": "hi", "client_id": "c1", field: f"x{LONE_SURROGATE}y"}
    await ws.send_json_to(frame)
    assert await receive(ws) == {"type": "error", "code": code, "detail": detail}
    await ws.send_json_to({"type": "send", "body": "still here", "client_id": "c2"})
    message = await receive(ws)
    assert (message["type"], message["message"]["body"]) == ("message", "still here")
    assert await database_sync_to_async(Message.objects.filter(kind="text").count)() == 1
    await ws.disconnect()


async def test_an_unexpected_error_costs_one_error_frame_not_the_socket(room, user, monkeypatch):
    ws, _ = await open_member_socket(room.code, user)
    # resume's database read fails in a way nobody planned for
    from history import consumers

    def broken(**kwargs):
        raise KeyError("surprise")

    monkeypatch.setattr(consumers, "_replay", broken)
    await ws.send_json_to({"type": "resume", "after_seq": 0})
    assert await receive(ws) == {
        "type": "error",
        "code": "server_error",
        "detail": "Something went wrong with that frame; nothing was stored.",
    }
    await ws.send_json_to({"type": "ping"})
    assert await receive(ws) == {"type": "pong"}
    await ws.disconnect()


async def test_a_loop_of_resumes_is_refused_after_the_budget(room, user):
    await database_sync_to_async(post)(room, user, "one", client_id="c1")
    ws, hello = await open_member_socket(room.code, user)
    for _ in range(RESUME_BUDGET):
        await ws.send_json_to({"type": "resume", "after_seq": hello["last_seq"] - 1})
        replayed = await receive(ws)
        assert (replayed["type"], replayed["message"]["body"]) == ("message", "one")
    await ws.send_json_to({"type": "resume", "after_seq": 0})
    assert await receive(ws) == {
        "type": "error",
        "code": "rate_limited",
        "detail": "Slow down: at most 5 resumes every 10 s.",
    }
    await ws.disconnect()
