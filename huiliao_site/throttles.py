"""Throttles shared by the API views. DRF's scoped throttle counts requests per user; the
rules here add:
- writes only (`WritesThrottle`): creating rooms, not listing them;
- per client address (`AddressThrottle`, under `<throttle_scope>_address`): guest
  accounts are free, so a per-user budget alone is no budget;
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

from huiliao_site.lookups import request_address

READ_METHODS = ("GET", "HEAD", "OPTIONS")


class LiveScopedRateThrottle(ScopedRateThrottle):
    """ScopedRateThrottle that reads the rates when asked, not once at import.

    DRF copies DEFAULT_THROTTLE_RATES into a class attribute when rest_framework.throttling
    is first imported, so a changed REST_FRAMEWORK setting (a test's override) would never
    reach it. `api_settings` is reloaded on every settings change.
    """

    @property
    def THROTTLE_RATES(self):
        return api_settings.DEFAULT_THROTTLE_RATES


class WritesThrottle(LiveScopedRateThrottle):
    """Throttles a view's writes (per user, by its `throttle_scope`), never its reads:
    creating rooms, not listing them; setting the announcement (a frame to every socket
    of the room), not reading it."""

    def allow_request(self, request, view):
        if request.method in READ_METHODS:
            return True
        return super().allow_request(request, view)


class AddressThrottle(ScopedRateThrottle):
    """The view's `throttle_scope` counted per client address, at the rate of
    `<throttle_scope>_address`."""

    def allow_request(self, request, view):
        scope = getattr(view, self.scope_attr, None)
        if not scope:
            return True
        self.scope = f"{scope}_address"
        self.rate = self.THROTTLE_RATES.get(self.scope)  # None: no address budget
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return SimpleRateThrottle.allow_request(self, request, view)

    def get_cache_key(self, request, view):
        # The client as the failed look-up guard counts it (an IPv6 /64 is one client).
        return self.cache_format % {"scope": self.scope, "ident": request_address(request)}


class AddressWritesThrottle(AddressThrottle):
    def allow_request(self, request, view):
        if request.method in READ_METHODS:
            return True
        return super().allow_request(request, view)
