"""Running the room from the room (docs/moderation.md): the room's settings, closing and
reopening, acting on members by member_id, and the moderation log. The same endpoints
serve the browser pages and the mini-program; each writes a ModerationAction and pushes
its frame (rooms.services). Message moderation (hide, reports, recall) is in
history.api_moderation: only history touches messages.
"""

from django.db.models import OuterRef, Subquery
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from huiliao_site.api import (
    CursorQuerySerializer,
    StrictCharField,
    UtcDateTimeField,
    error_responses,
    keyset_page,
    validated_query,
)
from huiliao_site.throttles import WritesThrottle
from rooms import selectors, services
from rooms.api import RoomDetailSerializer, room_detail
from rooms.models import MUTE_MAX_MINUTES, Membership, ModerationAction
from rooms.permissions import CanManageRoom, CanModerateRoom, RoomView


class MemberStandingSerializer(serializers.Serializer):
    """A member as moderators act on them: the `member_updated` frame's fields."""

    member_id = StrictCharField()
    display_name = StrictCharField()
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    muted_until = UtcDateTimeField(allow_null=True)
    banned = serializers.BooleanField()


def member_standing(membership: Membership) -> dict:
    return MemberStandingSerializer(
        {
            "member_id": membership.member_id,
            "display_name": membership.display_name,
            "role": membership.role,
            "muted_until": membership.muted_until if membership.is_muted() else None,
            "banned": membership.banned,
        }
    ).data


class MuteSerializer(serializers.Serializer):
    minutes = serializers.IntegerField(
        min_value=1, max_value=MUTE_MAX_MINUTES, help_text="How long; unmute lifts it early."
    )


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(
        choices=[Membership.Role.MODERATOR, Membership.Role.MEMBER],
        help_text="moderator or member: the owner's role never changes.",
    )


class ModerationRoomView(RoomView):
    throttle_classes = [WritesThrottle]
    throttle_scope = "moderation"


class CloseView(ModerationRoomView):
    permission_map = {"POST": CanManageRoom}

    @extend_schema(
        operation_id="rooms_close_post",
        request=None,
        responses={200: RoomDetailSerializer, **error_responses(401, 403, 404, 429)},
        description="Close the room now (the seed's destroyChatRoom; every UI asks first): "
        "nobody enters or posts, members keep reading, every socket gets `room_closed` "
        "and closes with 4410. The owner or a superuser; closing twice is harmless. "
        "`reopen` undoes it while the room's time has not run out.",
    )
    def post(self, request, code):
        services.room_close(room=self.room, actor=request.user)
        return Response(room_detail(room=self.room, user=request.user, membership=self.membership))


class ReopenView(ModerationRoomView):
    permission_map = {"POST": CanManageRoom}

    @extend_schema(
        operation_id="rooms_reopen",
        request=None,
        responses={200: RoomDetailSerializer, **error_responses(401, 403, 404, 409, 429)},
        description="Undo a close before the room's expiry (409 `room_expired` after it: "
        "extend it with PATCH first). Pushes nothing: clients reconnect. The owner or a "
        "superuser; reopening an open room is harmless.",
    )
    def post(self, request, code):
        services.room_reopen(room=self.room, actor=request.user)
        return Response(room_detail(room=self.room, user=request.user, membership=self.membership))


class MemberActionView(ModerationRoomView):
    """POST …/members/{member_id}/{action}: one view per action (urls.py binds them)."""

    permission_map = {"POST": CanModerateRoom}
    action_name = ""

    def target(self) -> Membership:
        target = selectors.membership_get_by_member_id(
            room=self.room, member_id=self.kwargs["member_id"]
        )
        selectors.membership_check_can_act_on(room=self.room, user=self.request.user, target=target)
        return target

    def act(self, request, target: Membership) -> Membership:
        raise NotImplementedError

    def post(self, request, code, member_id):
        target = self.act(request, self.target())
        return Response(member_standing(target))


def member_action_schema(operation: str, description: str, request=None, owner_only=False):
    return extend_schema(
        operation_id=f"rooms_members_{operation}",
        request=request,
        responses={200: MemberStandingSerializer, **error_responses(400, 401, 403, 404, 429)},
        description=description
        + " Pushes `member_updated` and writes the moderation log. 403 `target_is_owner`, "
        "`target_is_self`, or `not_owner` (a moderator acting on a moderator)"
        + (", and `not_owner` for anyone but the owner." if owner_only else "."),
    )


class MuteView(MemberActionView):
    @member_action_schema(
        "mute",
        "Mute a member for `minutes` (the owner and moderators): they read but cannot post.",
        request=MuteSerializer,
    )
    def post(self, request, code, member_id):
        return super().post(request, code, member_id)

    def act(self, request, target):
        data = MuteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return services.membership_mute(
            membership=target, minutes=data.validated_data["minutes"], actor=request.user
        )


class UnmuteView(MemberActionView):
    @member_action_schema("unmute", "Lift a member's mute.")
    def post(self, request, code, member_id):
        return super().post(request, code, member_id)

    def act(self, request, target):
        return services.membership_mute(membership=target, minutes=0, actor=request.user)


class BanView(MemberActionView):
    @member_action_schema(
        "ban",
        "Remove a member: their sockets close with 4403 and they cannot enter again "
        "until unbanned.",
    )
    def post(self, request, code, member_id):
        return super().post(request, code, member_id)

    def act(self, request, target):
        return services.membership_set_banned(membership=target, banned=True, actor=request.user)


class UnbanView(MemberActionView):
    @member_action_schema("unban", "Let a banned member enter again.")
    def post(self, request, code, member_id):
        return super().post(request, code, member_id)

    def act(self, request, target):
        return services.membership_set_banned(membership=target, banned=False, actor=request.user)


class RoleView(MemberActionView):
    permission_map = {"POST": CanManageRoom}

    @member_action_schema(
        "role", "Make a member a moderator, or a moderator a member.", RoleSerializer, True
    )
    def post(self, request, code, member_id):
        return super().post(request, code, member_id)

    def act(self, request, target):
        data = RoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return services.membership_set_role(
            membership=target, role=data.validated_data["role"], actor=request.user
        )


# --- the log ----------------------------------------------------------------------------


class LogMemberSerializer(serializers.Serializer):
    member_id = StrictCharField()
    display_name = StrictCharField()


class ModerationEntrySerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=ModerationAction.Action.choices)
    actor = LogMemberSerializer(
        allow_null=True,
        help_text="Who acted, as the room knows them; null for the room itself (a message "
        "its reporters hid) or site staff who are not members.",
    )
    member = LogMemberSerializer(allow_null=True, help_text="The member acted on, if any.")
    seq = serializers.IntegerField(allow_null=True, help_text="The message acted on, if any.")
    detail = serializers.DictField(help_text="What changed (minutes, role, new settings…).")
    created_at = UtcDateTimeField()


class ModerationLogSerializer(serializers.Serializer):
    results = ModerationEntrySerializer(many=True)
    next = StrictCharField(allow_null=True)


def _log_member(member_id: str | None, display_name: str | None) -> dict | None:
    if not member_id:
        return None
    return {"member_id": member_id, "display_name": display_name or ""}


class ModerationLogView(RoomView):
    permission_map = {"GET": CanModerateRoom}

    @extend_schema(
        operation_id="rooms_moderation_log",
        parameters=[CursorQuerySerializer],
        responses={200: ModerationLogSerializer, **error_responses(400, 401, 403, 404, 429)},
        description="Every act of running the room, newest first: the owner, moderators "
        "and superusers. Keyset-paged by `cursor`.",
    )
    def get(self, request, code):
        query = validated_query(CursorQuerySerializer, request)
        room = self.room
        members = Membership.objects.filter(room=room)
        actor = members.filter(user=OuterRef("actor_id"))
        target = members.filter(member_id=OuterRef("target_member_id"))
        rows = ModerationAction.objects.filter(room=room).annotate(
            actor_member_id=Subquery(actor.values("member_id")[:1]),
            actor_display_name=Subquery(actor.values("display_name")[:1]),
            target_display_name=Subquery(target.values("display_name")[:1]),
        )
        page, cursor = keyset_page(
            rows,
            time_field="created_at",
            key_field="pk",
            descending=True,
            cursor=query.get("cursor"),
            limit=query["limit"],
        )
        results = [
            {
                "action": entry.action,
                "actor": _log_member(entry.actor_member_id, entry.actor_display_name),
                "member": _log_member(entry.target_member_id, entry.target_display_name),
                "seq": entry.target_seq,
                "detail": entry.detail,
                "created_at": entry.created_at,
            }
            for entry in page
        ]
        return Response(ModerationLogSerializer({"results": results, "next": cursor}).data)
