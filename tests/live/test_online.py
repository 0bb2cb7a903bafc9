"""How many members have the room open: counted by the hubs from their sockets, summed
over processes through the cache, told to the sockets at most once per check."""

import asyncio
import threading

import pytest
from channels.db import database_sync_to_async

from history.live import online
from tests.factories import UserFactory, join
from tests.live.helpers import open_member_socket, receive

pytestmark = pytest.mark.django_db(transaction=True)


async def next_members(socket) -> dict:
    while True:
        frame = await receive(socket)
        if frame["type"] == "members":
            return frame


async def test_online_counts_members_with_the_room_open_in_every_process(room, user, settings):
    settings.HUILIAO_HUB_CHECK_SECONDS = 1
    ann = await database_sync_to_async(lambda: join(room, UserFactory(), display_name="Ann"))()
    owner, hello = await open_member_socket(room.code, user)
    assert (hello["members"], hello["online"]) == (2, 1)
    second, hello = await open_member_socket(room.code, ann.user)
    assert hello["online"] == 2
    assert await next_members(owner) == {"type": "members", "count": 2, "online": 2}
    # Another process reports 3 members with the room open there.
    await database_sync_to_async(online.exchange)(code=room.code, hub_id="elsewhere", local=3)
    assert await next_members(owner) == {"type": "members", "count": 2, "online": 5}
    await second.disconnect()
    assert await next_members(owner) == {"type": "members", "count": 2, "online": 4}
    await owner.disconnect()


async def test_the_first_hello_counts_members_online_in_other_processes(room, user):
    # Another process has 3 members with the room open; this one has none yet.
    await database_sync_to_async(online.exchange)(code=room.code, hub_id="elsewhere", local=3)
    owner, hello = await open_member_socket(room.code, user)
    assert (hello["members"], hello["online"]) == (1, 4)
    await owner.disconnect()


async def test_a_socket_joining_during_a_count_is_told_to_the_others(
    room, user, settings, monkeypatch
):
    # The owner's hello says 1 online. Ann's socket opens while a count is on its way
    # (slow on a busy machine): hers says 2, and the owner must hear 2 as well.
    settings.HUILIAO_HUB_CHECK_SECONDS = 1
    calls, counting, release = [], threading.Event(), threading.Event()
    real_exchange = online.exchange

    def slow_exchange(**kwargs):
        calls.append(kwargs)
        if len(calls) == 2:  # the first periodic count (the first is the subscription's)
            counting.set()
            release.wait(5)
        return real_exchange(**kwargs)

    monkeypatch.setattr(online, "exchange", slow_exchange)
    ann = await database_sync_to_async(lambda: join(room, UserFactory(), display_name="Ann"))()
    owner, hello = await open_member_socket(room.code, user)
    assert hello["online"] == 1
    for _ in range(500):
        if counting.is_set():
            break
        await asyncio.sleep(0.01)
    assert counting.is_set()
    second, hello = await open_member_socket(room.code, ann.user)
    assert hello["online"] == 2
    release.set()
    assert await next_members(owner) == {"type": "members", "count": 2, "online": 2}
    await second.disconnect()
    await owner.disconnect()


def test_a_dead_process_stops_being_counted(db):
    from django.core.cache import cache

    assert online.exchange(code="ROOMCODE", hub_id="a", local=2) == 0
    assert online.exchange(code="ROOMCODE", hub_id="b", local=3) == 2
    cache.delete(online._count_key("ROOMCODE", "a"))  # its key expired
    assert online.exchange(code="ROOMCODE", hub_id="b", local=3) == 0
    assert cache.get(online._hubs_key("ROOMCODE")) == ["b"]
