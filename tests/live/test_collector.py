"""The garbage collector's full passes kept off the live path (history/live/collector.py):
settled sockets frozen out of its sight, handed back once enough of them have closed.

The test process runs with HUILIAO_GC_FREEZE off (tests/conftest.py); these tests turn it
on and drive the hub's collector on a clock they move. The servers the suite starts run it
as production does (tests/live/test_fastpath.py reads their metrics)."""

import gc
import weakref

import pytest
from channels.db import database_sync_to_async

from history.live import collector
from history.live.collector import FREEZE_EVERY, RELEASE_AFTER_FREEZES, RELEASE_MIN, Collector
from history.live.registry import get_hub
from tests.factories import UserFactory, join
from tests.live.helpers import open_member_socket
from tests.live.test_hub import FakeClock


class Cycle:
    """Garbage only the cyclic collector can free (as a closed socket's state is)."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def freezing(settings):
    settings.HUILIAO_GC_FREEZE = True
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


def test_sockets_are_frozen_once_the_join_burst_settles(freezing, fake_clock):
    kept = Collector(clock=fake_clock)
    epochs = [kept.attached() for _ in range(3)]
    assert kept.tick() is True  # still joining: wait
    assert gc.get_freeze_count() == 0
    fake_clock.now += collector.SETTLE_SECONDS
    assert kept.tick() is False
    assert gc.get_freeze_count() > 0
    assert (kept.epoch, kept.frozen, kept.fresh) == (1, 3, 0)
    assert epochs == [0, 0, 0]


def test_a_long_burst_is_frozen_every_freeze_every_sockets(freezing, fake_clock):
    kept = Collector(clock=fake_clock)
    for _ in range(FREEZE_EVERY - 1):
        kept.attached()
    kept.tick()
    assert gc.get_freeze_count() == 0
    kept.attached()
    assert kept.tick() is False
    assert (kept.epoch, kept.frozen) == (1, FREEZE_EVERY)


def test_a_cycle_frozen_with_its_socket_is_freed_at_the_release(freezing, fake_clock):
    kept = Collector(clock=fake_clock)
    garbage = Cycle()
    alive = weakref.ref(garbage)
    epochs = [kept.attached() for _ in range(4 * RELEASE_MIN)]
    fake_clock.now += collector.SETTLE_SECONDS
    kept.tick()
    del garbage
    gc.collect()
    assert alive() is not None  # frozen: the collector does not see it
    for epoch in epochs[: RELEASE_MIN - 1]:
        kept.closed(epoch)
    assert not kept.release_due()
    kept.closed(epochs[RELEASE_MIN - 1])
    assert kept.release_due()  # a quarter of the frozen sockets have gone
    kept.tick()
    assert alive() is None
    assert (kept.gone, kept.frozen, kept.epoch) == (0, 3 * RELEASE_MIN, 2)
    assert gc.get_freeze_count() > 0  # the survivors are frozen again


def test_every_so_many_freezes_one_is_a_release(freezing, fake_clock):
    kept = Collector(clock=fake_clock)
    for _ in range(RELEASE_AFTER_FREEZES):
        kept.attached()
        fake_clock.now += collector.SETTLE_SECONDS
        kept.tick()
    assert (kept.epoch, kept.freezes) == (RELEASE_AFTER_FREEZES, RELEASE_AFTER_FREEZES)
    garbage = Cycle()
    alive = weakref.ref(garbage)
    kept.attached()
    gc.freeze()  # as if this garbage had reached the oldest generation and been frozen
    del garbage
    fake_clock.now += collector.SETTLE_SECONDS
    kept.tick()
    assert alive() is None
    assert (kept.freezes, kept.frozen, kept.fresh) == (0, RELEASE_AFTER_FREEZES + 1, 0)


def test_a_socket_closed_before_any_freeze_counts_as_never_frozen(freezing, fake_clock):
    kept = Collector(clock=fake_clock)
    epoch = kept.attached()
    kept.closed(epoch)
    assert (kept.fresh, kept.frozen, kept.gone) == (0, 0, 0)
    fake_clock.now += collector.SETTLE_SECONDS
    assert kept.tick() is False
    assert gc.get_freeze_count() == 0  # nothing new to freeze


def test_switched_off_nothing_is_frozen(settings, fake_clock):
    settings.HUILIAO_GC_FREEZE = False
    kept = Collector(clock=fake_clock)
    kept.attached()
    fake_clock.now += 10
    assert kept.tick() is False
    collector.freeze_imports()
    assert gc.get_freeze_count() == 0
    assert "HUILIAO_GC_FREEZE=0" in collector.status()


@pytest.mark.django_db(transaction=True)
async def test_the_hub_freezes_its_sockets_and_counts_them_out(freezing, room, fake_clock):
    hub = get_hub()
    hub.clock = fake_clock
    users = [await join_user(room) for _ in range(3)]
    sockets = [(await open_member_socket(room.code, user))[0] for user in users]
    assert hub.collect_timer is not None  # the hub looks again once the burst settles
    fake_clock.now += collector.SETTLE_SECONDS
    hub._collect()
    assert (hub.collector.frozen, hub.collector.fresh) == (3, 0)
    assert gc.get_freeze_count() > 0
    await sockets[0].disconnect()
    assert (hub.collector.frozen, hub.collector.gone) == (2, 1)
    late, _ = await open_member_socket(room.code, await join_user(room))
    assert hub.collector.fresh == 1
    for communicator in [*sockets[1:], late]:
        await communicator.disconnect()
    assert (hub.collector.frozen, hub.collector.fresh, hub.collector.gone) == (0, 0, 3)


async def join_user(room):
    return await database_sync_to_async(lambda: join(room, UserFactory()).user)()
