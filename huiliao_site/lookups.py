"""Failed look-ups per client address. Room codes are the only secret between a stranger
and a room, so guessing them is held to a few dozen misses per window from one address,
across the API, the pages and the socket alike (one counter, in the cache every process
shares when Redis is configured)."""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from huiliao_site.logs import FailureLog

logger = logging.getLogger(__name__)
# The counter is a guard, not a gate: with the cache (Redis) down, look-ups go on unguarded
# rather than every room page and socket failing with it.
# The cause is always the cache's own outage, which its own log line names: no traceback.
cache_failures = FailureLog(logger, "counting failed look-ups in the cache", traceback=False)


def request_address(request) -> str:
    """The client's address as DRF's throttles see it (HUILIAO_NUM_PROXIES decides how far
    into X-Forwarded-For to trust)."""
    return BaseThrottle().get_ident(request)


def socket_address(scope) -> str:
    """The same for a websocket's ASGI scope."""
    proxies = api_settings.NUM_PROXIES
    if proxies:
        headers = dict(scope.get("headers") or [])
        forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
        if forwarded:
            hops = [hop.strip() for hop in forwarded.split(",")]
            return hops[-min(proxies, len(hops))]
    client = scope.get("client")
    return client[0] if client else ""


def _window() -> tuple[int, int]:
    """(this window's number, seconds until it ends): fixed windows keep the counter one
    cache key that every process shares (Redis when configured)."""
    length = settings.HUILIAO_FAILED_LOOKUP_WINDOW
    now = time.time()
    return int(now // length), int(length - now % length) + 1


def _key(address: str, window: int) -> str:
    return f"failed-lookups:{address}:{window}"


def failed_lookups_wait(address: str) -> int | None:
    """Seconds to wait once this address has missed HUILIAO_FAILED_LOOKUP_LIMIT times in
    the window (None below it). Callers then refuse every code, found or not, so the
    answer says nothing about which codes exist."""
    window, left = _window()
    try:
        misses = cache.get(_key(address, window)) or 0
    except Exception as exc:  # noqa: BLE001 - any cache failure: fail open, logged once
        cache_failures.failed(exc, what="read")
        return None
    cache_failures.succeeded()
    return left if misses >= settings.HUILIAO_FAILED_LOOKUP_LIMIT else None


def failed_lookup_record(address: str) -> None:
    window, left = _window()
    key = _key(address, window)
    try:
        if not cache.add(key, 1, timeout=left):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=left)
    except Exception as exc:  # noqa: BLE001 - as above
        cache_failures.failed(exc, what="write")
