"""Keeps the garbage collector's full passes off the live path.

Why: CPython's cyclic collector stops the whole process while it walks every object it
tracks, and a process serving a hall tracks a few hundred thousand: Django and its imports,
and some hundred per socket. A full pass over them took 50–180 ms at 1,000 sockets on a
2-core machine (`bench/fanout.py`), the one stall in a fan-out that otherwise takes about
10 ms, and the collector starts one each time the long-lived objects have grown by a
quarter, which a hall joining does several times over.

Which objects live long is known here: the imports, and the sockets' state. Both are moved
out of the collector's sight with `gc.freeze()` (public, constant time): the imports once at
start-up, the sockets once a join burst has settled (or every FREEZE_EVERY sockets during a
long one). Frozen objects still die by reference counting; only cycles among them wait. So
when a quarter of the frozen sockets have closed, the process unfreezes, collects once (one
deliberate pause, after a crowd has left) and freezes what is left.

HUILIAO_GC_FREEZE=0 leaves the collector as CPython configures it.
"""

import gc
import logging
import time

from django.conf import settings

from huiliao_site import metrics

logger = logging.getLogger(__name__)

# A join burst has settled when no socket attached for this long.
SETTLE_SECONDS = 1.0
# During a long burst, freeze every this many new sockets anyway.
FREEZE_EVERY = 250
# Release when this share of the frozen sockets has closed, and at least RELEASE_MIN; and
# in place of every RELEASE_AFTER_FREEZES-th freeze, whatever closed (a freeze may also
# catch a little garbage of other work that had reached the oldest generation).
RELEASE_SHARE = 0.25
RELEASE_MIN = 100
RELEASE_AFTER_FREEZES = 50


def enabled() -> bool:
    return settings.HUILIAO_GC_FREEZE


def freeze_imports() -> None:
    """At start-up, once the application is imported: what exists now lives as long as the
    process does."""
    if not enabled():
        return
    gc.collect()
    gc.freeze()
    metrics.GC_FROZEN_OBJECTS.set(gc.get_freeze_count())


class Collector:
    """One process's bookkeeping of frozen sockets (the hub calls it; tests drive `tick`)."""

    def __init__(self, *, clock=time.monotonic) -> None:
        self.clock = clock
        self.epoch = 0  # freezes so far: a socket attached in an earlier epoch is frozen
        self.fresh = 0  # open sockets attached since the last freeze
        self.frozen = 0  # open sockets attached before it
        self.gone = 0  # frozen sockets closed since (their cycles wait for a release)
        self.freezes = 0  # since the last release
        self.last_attach = float("-inf")

    def attached(self) -> int:
        """A socket joined; returns its epoch, to hand back to `closed`."""
        self.fresh += 1
        self.last_attach = self.clock()
        return self.epoch

    def closed(self, epoch: int) -> None:
        if epoch < self.epoch:
            self.frozen -= 1
            self.gone += 1
        else:
            self.fresh -= 1

    def release_due(self) -> bool:
        """Enough frozen sockets have closed to collect their cycles."""
        return self.gone >= max(RELEASE_MIN, RELEASE_SHARE * (self.frozen + self.gone))

    def tick(self) -> bool:
        """Freeze or release if it is time. True: sockets still wait to be frozen (call
        again in SETTLE_SECONDS)."""
        if not enabled():
            return False
        settled = self.fresh and (
            self.fresh >= FREEZE_EVERY or self.clock() - self.last_attach >= SETTLE_SECONDS
        )
        if self.release_due() or (settled and self.freezes >= RELEASE_AFTER_FREEZES):
            self.release()
        elif settled:
            self.freeze()
        return self.fresh > 0

    def freeze(self) -> None:
        # The young generations first (cheap): their garbage is not frozen with the rest.
        gc.collect(1)
        gc.freeze()
        self.epoch += 1
        self.freezes += 1
        self.frozen += self.fresh
        self.fresh = 0
        metrics.GC_FROZEN_OBJECTS.set(gc.get_freeze_count())

    def release(self) -> None:
        """Hand everything back to the collector, collect once, freeze the survivors."""
        started = time.perf_counter()
        gc.unfreeze()
        collected = gc.collect()
        gone, self.gone = self.gone, 0
        self.freeze()
        self.freezes = 0
        metrics.GC_RELEASES.inc()
        logger.info(
            "released the objects of %d closed sockets: %d collected in %.0f ms",
            gone,
            collected,
            (time.perf_counter() - started) * 1000,
        )


def status() -> str:
    """For the start-up log line."""
    if not enabled():
        return "garbage collector as CPython configures it (HUILIAO_GC_FREEZE=0)"
    return "imports and settled sockets frozen out of the garbage collector's passes"
