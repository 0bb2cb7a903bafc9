"""Counting per client over fixed windows, in the cache every process shares (Redis when
configured): failed room-code look-ups per client address (room codes are the only secret
between a stranger and a room, so guessing them is held to a budget of misses per window,
across the API, the pages and the socket alike), and the like.

A client is its address, except that an IPv6 client is its /64: one subscriber's network
holds billions of addresses, and a budget per address would be none."""

import ipaddress
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
cache_failures = FailureLog(logger, "counting in the cache", traceback=False)


def client_key(address: str) -> str:
    """The address a budget is kept for: itself, or its /64 for IPv6."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 4:
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))


def request_address(request) -> str:
    """The client as DRF's throttles see its address (HUILIAO_NUM_PROXIES decides how far
    into X-Forwarded-For to trust), grouped by client_key."""
    return client_key(BaseThrottle().get_ident(request))


def socket_address(scope) -> str:
    """The same for a websocket's ASGI scope."""
    proxies = api_settings.NUM_PROXIES
    if proxies:
        headers = dict(scope.get("headers") or [])
        forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
        if forwarded:
            hops = [hop.strip() for hop in forwarded.split(",")]
            return client_key(hops[-min(proxies, len(hops))])
    client = scope.get("client")
    return client_key(client[0]) if client else ""


class WindowCounter:
    """A count per key over fixed windows of `window_setting` seconds, over budget at
    `limit_setting`. With the cache down it counts nothing and refuses nothing (a guard,
    not a gate), and says so once."""

    def __init__(self, name: str, *, limit_setting: str, window_setting: str) -> None:
        self.name = name
        self.limit_setting = limit_setting
        self.window_setting = window_setting

    def _window(self) -> tuple[int, int]:
        length = getattr(settings, self.window_setting)
        now = time.time()
        return int(now // length), int(length - now % length) + 1

    def _key(self, key: str, window: int) -> str:
        return f"{self.name}:{key}:{window}"

    def wait(self, key: str) -> int | None:
        """Seconds until the window ends when `key` is over its budget; None below it."""
        window, left = self._window()
        try:
            count = cache.get(self._key(key, window)) or 0
        except Exception as exc:  # noqa: BLE001 - any cache failure: fail open, logged once
            cache_failures.failed(exc, what=f"{self.name} read")
            return None
        cache_failures.succeeded()
        return left if count >= getattr(settings, self.limit_setting) else None

    def add(self, key: str) -> None:
        window, left = self._window()
        cache_key = self._key(key, window)
        try:
            if not cache.add(cache_key, 1, timeout=left):
                try:
                    cache.incr(cache_key)
                except ValueError:  # expired between add and incr
                    cache.add(cache_key, 1, timeout=left)
        except Exception as exc:  # noqa: BLE001 - as above
            cache_failures.failed(exc, what=f"{self.name} write")


failed_lookups = WindowCounter(
    "failed-lookups",
    limit_setting="HUILIAO_FAILED_LOOKUP_LIMIT",
    window_setting="HUILIAO_FAILED_LOOKUP_WINDOW",
)


def failed_lookups_wait(address: str) -> int | None:
    """Seconds to wait once this client has missed HUILIAO_FAILED_LOOKUP_LIMIT times in
    the window (None below it). Callers then refuse every code to strangers, found or not,
    so the answer says nothing about which codes exist."""
    return failed_lookups.wait(address)


def failed_lookup_record(address: str) -> None:
    failed_lookups.add(address)
