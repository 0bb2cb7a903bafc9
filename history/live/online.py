"""How many members have a room open, summed over every process's room hub.

Each hub writes its own count to the cache (Redis when REDIS_URL is set, so shared) at
every check, under a key that expires if the process dies, and reads the others'. With the
embedded defaults there is one process and the sum is its own count.
"""

from django.core.cache import cache

# A hub's count outlives it by this much: long enough to survive a few checks, short
# enough that a dead process's sockets stop being counted soon.
COUNT_SECONDS = 30
HUBS_SECONDS = 24 * 3600


def _hubs_key(code: str) -> str:
    return f"online:{code}:hubs"


def _count_key(code: str, hub_id: str) -> str:
    return f"online:{code}:{hub_id}"


def exchange(*, code: str, hub_id: str, local: int) -> int:
    """Record this hub's count for the room; return the other hubs' total. A cache that
    is down counts nobody elsewhere (this process's own count still holds)."""
    try:
        hubs = set(cache.get(_hubs_key(code)) or ())
        if hub_id not in hubs:
            hubs.add(hub_id)
            cache.set(_hubs_key(code), sorted(hubs), timeout=HUBS_SECONDS)
        cache.set(_count_key(code, hub_id), local, timeout=COUNT_SECONDS)
        others = [_count_key(code, other) for other in hubs if other != hub_id]
        counts = cache.get_many(others) if others else {}
    except Exception:
        return 0
    if len(counts) < len(others):  # hubs that went away: forget them
        alive = {hub_id} | {key.rsplit(":", 1)[1] for key in counts}
        try:
            cache.set(_hubs_key(code), sorted(alive), timeout=HUBS_SECONDS)
        except Exception:  # noqa: S110 - tidying only; the counts above stand
            pass
    return sum(int(value) for value in counts.values())
