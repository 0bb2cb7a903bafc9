"""Frames a feed handles in one turn of the event loop go out together (socket.Burst)."""

import pytest

from history.live.fastpath import wire_frame
from history.live.registry import get_hub
from history.live.socket import Burst
from rooms import protocol
from tests.live.helpers import open_member_socket, receive

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_burst_joins_the_wire_bytes_of_its_frames_in_order():
    frames = [
        (None, protocol.encode(protocol.pong_frame())),
        (7, {"type": "websocket.send", "text": '{"type":"message","n":7}'}),
        (8, {"type": "websocket.send", "text": '{"type":"message","n":8}'}),
    ]
    burst = Burst(frames)
    assert (burst.first_seq, burst.last_seq, burst.joinable) == (7, 8, True)
    assert burst.wire == b"".join(wire_frame(message["text"]) for _, message in frames)


def test_a_burst_with_a_close_is_not_joined():
    burst = Burst([(None, {"type": "websocket.close", "code": 4408})])
    assert (burst.first_seq, burst.last_seq, burst.joinable) == (None, None, False)


async def test_frames_handled_in_one_turn_reach_an_asgi_socket_one_by_one(room, user):
    """Behind a server without the fast path (here the test communicator), a burst is
    delivered frame by frame, in order, skipping what the socket already has."""
    communicator, hello = await open_member_socket(room.code, user)
    feed = get_hub().feeds[room.code]
    socket = next(iter(feed.sockets))
    socket.seq = 5  # as if its replay had reached seq 5
    for frame, seq in (
        (protocol.members_frame(3, 2), None),
        ({"type": "message", "message": {"seq": 5}}, 5),
        ({"type": "message", "message": {"seq": 6}}, 6),
    ):
        feed._deliver(seq, protocol.encode(frame))
    assert len(feed.outbox) == 3  # nothing written yet: the turn is not over
    assert await receive(communicator) == {"type": "members", "count": 3, "online": 2}
    assert await receive(communicator) == {"type": "message", "message": {"seq": 6}}
    assert await communicator.receive_nothing(timeout=0.1)
    assert socket.seq == 6
    await communicator.disconnect()
