"""Publishing from a worker thread never waits forever, and an outage is logged once."""

import asyncio
import logging
import threading
import time

import pytest
from channels.layers import get_channel_layer

from huiliao_site.logs import FailureLog
from rooms import events


@pytest.fixture
def server_loop():
    """A loop in its own thread, as Daphne's; unbound and closed at the end."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    events.bind_server_loop(loop)
    yield loop
    events.bind_server_loop(None)
    if loop.is_running():
        loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    loop.close()


def test_publish_goes_through_the_server_loop(server_loop):
    layer = get_channel_layer()

    async def listen():
        channel = await layer.new_channel()
        await layer.group_add(events.group_name("PUBLISH1"), channel)
        return channel

    channel = asyncio.run_coroutine_threadsafe(listen(), server_loop).result(5)
    events.send_now("PUBLISH1", {"type": "room.event", "frame": {"type": "pong"}})
    received = asyncio.run_coroutine_threadsafe(layer.receive(channel), server_loop).result(5)
    assert received == {"type": "room.event", "frame": {"type": "pong"}}


def test_publish_to_a_stopped_server_loop_returns_at_once(server_loop, caplog):
    server_loop.call_soon_threadsafe(server_loop.stop)
    while server_loop.is_running():
        time.sleep(0.01)
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger="rooms.events"):
        events.send_now("PUBLISH2", {"type": "room.event", "frame": {"type": "pong"}})
    assert time.monotonic() - started < 1
    assert "RuntimeError: the server is shutting down" in caplog.text
    events.publish_failures.succeeded()  # leave the shared log as the next test expects


def test_publish_to_a_busy_server_loop_gives_up_after_the_bound(server_loop, monkeypatch, caplog):
    monkeypatch.setattr(events, "PUBLISH_WAIT_SECONDS", 0.3)
    release = threading.Event()
    server_loop.call_soon_threadsafe(release.wait, 5)  # the loop is stuck in a call
    with caplog.at_level(logging.ERROR, logger="rooms.events"):
        events.send_now("PUBLISH3", {"type": "room.event", "frame": {"type": "pong"}})
    release.set()
    assert "TimeoutError: the layer took over 0.3 s" in caplog.text
    events.publish_failures.succeeded()


def test_an_outage_is_logged_once_then_counted_then_its_end(caplog):
    log = FailureLog(logging.getLogger("rooms.events"), "publishing", interval=0.2)
    with caplog.at_level(logging.INFO, logger="rooms.events"):
        for n in range(50):
            log.failed(ConnectionError(f"refused {n}"), what="room.event to room X")
        time.sleep(0.25)
        log.failed(ConnectionError("refused 50"), what="room.event to room X")
        log.succeeded()
        log.succeeded()
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "publishing failed (room.event to room X)",
        "publishing still failing: 50 more failures in the last 0 s (latest: refused 50)",
        lines[2],
    ]
    assert lines[2].startswith("publishing recovered after 0 s and 51 failures")
    assert caplog.records[0].exc_info is not None
    assert all(record.exc_info is None for record in caplog.records[1:])
