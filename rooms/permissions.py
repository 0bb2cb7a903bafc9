"""Who may call what on a room, on the view itself (pretalx's permission_map is the model).

A room's API view subclasses `RoomView` and says, per HTTP method, which rule applies:

    permission_map = {"GET": CanReadRoom, "PUT": CanModerateRoom}

The rules are the selectors' own (one rule, one place); they raise the domain errors the
API answers with (403 `not_member`, `banned`, `not_moderator`, `not_owner`), after the room
itself is found (404 `room_not_found` first), and after the room-code guard (429
`too_many_guesses`, rooms.selectors.room_code_guard_check). The room and the caller's
membership are read once per request and kept on the view for its handler.
"""

from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.views import APIView

from huiliao_site.errors import PermissionDenied
from huiliao_site.lookups import request_address
from rooms import selectors
from rooms.models import Membership, Room


class RoomView(APIView):
    """An API view of the room named by `code` in the URL."""

    # HTTP method → permission class; a method not listed needs only a login.
    permission_map: dict[str, type[BasePermission]] = {}

    def check_permissions(self, request):
        # The room-code guard before any rule: past it, a stranger gets the same 429
        # whether the room exists, refuses them or would let them in.
        selectors.room_code_guard_check(
            code=self.kwargs["code"], address=request_address(request), user=request.user
        )
        super().check_permissions(request)

    def get_permissions(self):
        rule = self.permission_map.get(self.request.method)
        return [IsAuthenticated(), *([rule()] if rule else [])]

    @property
    def room(self) -> Room:
        if not hasattr(self, "_room"):
            self._room = selectors.room_get(code=self.kwargs["code"])
        return self._room

    @property
    def membership(self) -> Membership | None:
        """The caller's membership of the room (current or not), or None."""
        if not hasattr(self, "_membership"):
            self._membership = selectors.membership_get(room=self.room, user=self.request.user)
        return self._membership


class CanReadRoom(BasePermission):
    """Current members, and those who manage the room (its history, members, QR code)."""

    def has_permission(self, request, view: RoomView) -> bool:
        if selectors.user_can_manage_room(user=request.user, room=view.room):
            return True
        selectors.membership_check_current(membership=view.membership)
        return True


class CanModerateRoom(BasePermission):
    """The owner, its moderators and superusers (the announcement, later moderation)."""

    def has_permission(self, request, view: RoomView) -> bool:
        selectors.membership_check_can_moderate(
            room=view.room, user=request.user, membership=view.membership
        )
        return True


class CanManageRoom(BasePermission):
    """The owner and superusers (closing the room)."""

    def has_permission(self, request, view: RoomView) -> bool:
        if not selectors.user_can_manage_room(user=request.user, room=view.room):
            raise PermissionDenied("Only the room's owner can close it.", code="not_owner")
        return True
