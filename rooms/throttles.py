"""The room-code guard as a DRF throttle, for every API view that takes a `code`."""

from rest_framework.throttling import BaseThrottle

from huiliao_site.lookups import request_address
from rooms import selectors


class RoomCodeGuard(BaseThrottle):
    """Once the caller's address has missed too many room codes, refuses strangers naming
    any code (429 `too_many_guesses`, rooms.selectors.room_code_guard_check); the API's
    exception handler counts each miss."""

    def allow_request(self, request, view):
        code = getattr(view, "kwargs", {}).get("code")
        if code is not None:
            selectors.room_code_guard_check(
                code=code, address=request_address(request), user=request.user
            )
        return True
