"""The seed's chatroom package as REST: create, list, nearby, info, close, announcement,
members. Views validate with an input serializer, call one selector or service, and answer
with an output serializer; every refusal is a DomainError raised by a selector/service.

Enter/leave live in history.api: they write join/leave notices to the message stream,
which only the history app may do.
"""

import datetime as dt

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from huiliao_site.api import (
    CursorQuerySerializer,
    OneLineTextField,
    StrictCharField,
    UtcDateTimeField,
    error_responses,
    keyset_page,
    latitude_field,
    longitude_field,
    validated_query,
)
from huiliao_site.throttles import (
    AddressThrottle,
    AddressWritesThrottle,
    LiveScopedRateThrottle,
    WritesThrottle,
)
from rooms import protocol, selectors, services
from rooms.avatars import AVATAR_CHOICES, avatar_list
from rooms.models import (
    ANNOUNCEMENT_MAX,
    GEOFENCE_MAX_RADIUS_M,
    GEOFENCE_MIN_RADIUS_M,
    ROOM_NAME_MAX,
    SLOW_MODE_MAX_SECONDS,
    Membership,
    Room,
)
from rooms.permissions import CanManageRoom, CanModerateRoom, CanReadRoom, RoomView

# Nearby distances are rounded: with exact ones, three look-ups pin the venue down.
DISTANCE_STEP_M = 10


# --- Serializers --------------------------------------------------------------------------


class GeofenceSerializer(serializers.Serializer):
    latitude = latitude_field()
    longitude = longitude_field()
    radius_m = serializers.IntegerField(
        min_value=GEOFENCE_MIN_RADIUS_M, max_value=GEOFENCE_MAX_RADIUS_M
    )


class GeofenceShownSerializer(serializers.Serializer):
    latitude = serializers.FloatField(
        allow_null=True, help_text="The venue's point: null unless I manage the room."
    )
    longitude = serializers.FloatField(allow_null=True, help_text="As latitude.")
    radius_m = serializers.IntegerField()


class RoomCreateSerializer(serializers.Serializer):
    name = OneLineTextField(min_length=1, max_length=ROOM_NAME_MAX, error_code="invalid_name")
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="In the future, at most HUILIAO_MAX_ROOM_DAYS (default 30) days away. "
        "null or absent: HUILIAO_DEFAULT_ROOM_HOURS (default 24) from now, or never for "
        "staff.",
    )
    geofence = GeofenceSerializer(
        required=False, allow_null=True, default=None, help_text="null or absent: open to anyone."
    )

    def validate_expires_at(self, value: dt.datetime | None) -> dt.datetime | None:
        if value is None:
            return None
        now = timezone.now()
        if value <= now:
            raise serializers.ValidationError("Must be in the future.")
        if value > now + dt.timedelta(days=settings.HUILIAO_MAX_ROOM_DAYS):
            raise serializers.ValidationError(
                f"Must be at most {settings.HUILIAO_MAX_ROOM_DAYS} days away."
            )
        return value


class RoomPatchSerializer(serializers.Serializer):
    name = OneLineTextField(
        required=False, min_length=1, max_length=ROOM_NAME_MAX, error_code="invalid_name"
    )
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="In the future, at most HUILIAO_MAX_ROOM_DAYS days away; null (never) "
        "for staff only.",
    )
    slow_mode_seconds = serializers.IntegerField(
        required=False, min_value=0, max_value=SLOW_MODE_MAX_SECONDS, help_text="0 turns it off."
    )
    posting = serializers.ChoiceField(
        required=False,
        choices=Room.Posting.choices,
        help_text="everyone, or moderators (a broadcast room).",
    )


class RoomListQuerySerializer(CursorQuerySerializer):
    role = serializers.ChoiceField(
        choices=[Membership.Role.OWNER, Membership.Role.MEMBER],
        required=False,
        help_text="owner: rooms I created; member: rooms I entered and do not own; absent: both.",
    )


class NearbyQuerySerializer(serializers.Serializer):
    latitude = latitude_field()
    longitude = longitude_field()


class AnnouncementSerializer(serializers.Serializer):
    text = StrictCharField(
        allow_blank=True, max_length=ANNOUNCEMENT_MAX, error_code="invalid_announcement"
    )
    updated_at = UtcDateTimeField(allow_null=True, read_only=True)


class MemberSerializer(serializers.Serializer):
    """A person as the room knows them (rooms.protocol.member_payload): never their account.
    The same shape as a message's `sender`."""

    member_id = StrictCharField(
        help_text="Their id in this room only: the same person has another in every room."
    )
    display_name = StrictCharField(help_text="Unique among the room's current members.")
    avatar = serializers.ChoiceField(choices=AVATAR_CHOICES, help_text="The preset's key.")
    avatar_url = StrictCharField(help_text="The preset's image; never the account's own avatar.")
    role = serializers.ChoiceField(
        choices=Membership.Role.choices,
        help_text="owner and moderator carry a badge in every client; nobody can copy it.",
    )


class RoomSummarySerializer(serializers.Serializer):
    """A room as lists show it."""

    code = StrictCharField()
    name = StrictCharField()
    owner = MemberSerializer(help_text="The organiser as the room knows them.")
    status = serializers.ChoiceField(choices=Room.Status.choices)
    created_at = UtcDateTimeField()
    expires_at = UtcDateTimeField(allow_null=True)
    closed_at = UtcDateTimeField(allow_null=True)
    geofence = GeofenceShownSerializer(allow_null=True, help_text="null: open to anyone.")
    member_count = serializers.IntegerField()
    last_seq = serializers.IntegerField()


class MyRoomSerializer(RoomSummarySerializer):
    my_role = serializers.ChoiceField(choices=Membership.Role.choices, allow_null=True)


class NearbyRoomSerializer(serializers.Serializer):
    """A room near me: how far, never where (the venue's point is not given out)."""

    code = StrictCharField()
    name = StrictCharField()
    expires_at = UtcDateTimeField(allow_null=True)
    member_count = serializers.IntegerField()
    distance_m = serializers.IntegerField(
        help_text=f"Metres from the given point to the venue, to the nearest {DISTANCE_STEP_M}."
    )


class RoomDetailSerializer(RoomSummarySerializer):
    is_member = serializers.BooleanField(help_text="Whether I am a current member.")
    my_member_id = StrictCharField(
        allow_null=True, help_text="My id in this room (messages whose sender has it are mine)."
    )
    my_role = serializers.ChoiceField(
        choices=Membership.Role.choices, allow_null=True, help_text="null unless I am a member."
    )
    my_display_name = StrictCharField(allow_null=True)
    my_avatar = serializers.ChoiceField(
        choices=AVATAR_CHOICES, allow_null=True, help_text="My preset avatar's key."
    )
    my_avatar_url = StrictCharField(allow_null=True)
    can_manage = serializers.BooleanField(
        help_text="Whether I may close, reopen and appoint moderators (owner, superusers)."
    )
    can_moderate = serializers.BooleanField(
        help_text="Whether I may moderate: settings, hiding, muting, banning, the report "
        "queue and the log (owner, moderators, superusers)."
    )
    my_muted_until = UtcDateTimeField(allow_null=True, help_text="Until when I am muted, or null.")
    slow_mode_seconds = serializers.IntegerField(
        help_text="0: off. Otherwise a member posts once per this many seconds; the "
        "organiser and moderators are exempt."
    )
    posting = serializers.ChoiceField(
        choices=Room.Posting.choices,
        help_text="moderators: a broadcast room, where only the organiser and moderators post.",
    )
    announcement = AnnouncementSerializer(
        allow_null=True, help_text="null for those who are not members."
    )


class RoomListSerializer(serializers.Serializer):
    results = MyRoomSerializer(many=True)
    next = StrictCharField(allow_null=True, help_text="Cursor of the next page, or null.")


class NearbyListSerializer(serializers.Serializer):
    results = NearbyRoomSerializer(many=True)


class MemberListSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    results = MemberSerializer(many=True)
    next = StrictCharField(allow_null=True, help_text="Cursor of the next page, or null.")


class AvatarSerializer(serializers.Serializer):
    key = serializers.ChoiceField(choices=AVATAR_CHOICES)
    url = StrictCharField()


class AvatarListSerializer(serializers.Serializer):
    results = AvatarSerializer(many=True)


# --- Payload builders (shared with history.api) -------------------------------------------


def round_distance(metres: float) -> int:
    return int(round(metres / DISTANCE_STEP_M) * DISTANCE_STEP_M)


def geofence_of(room: Room, *, show_venue: bool) -> dict | None:
    """The fence; its point only for those who manage the room. A room's code travels
    further than its venue (a photo of the poster), and the point locates the event."""
    if not room.has_geofence:
        return None
    return {
        "latitude": room.latitude if show_venue else None,
        "longitude": room.longitude if show_venue else None,
        "radius_m": room.radius_m,
    }


def owner_payload(room: Room) -> dict | None:
    owner = selectors.room_owner(room)
    if owner["member_id"] is None:
        return None
    return protocol.member_payload(**owner, role=Membership.Role.OWNER)


def room_summary(room: Room, *, member_count: int, show_venue: bool) -> dict:
    return {
        "code": room.code,
        "name": room.name,
        "owner": owner_payload(room),
        "status": room.status,
        "created_at": room.created_at,
        "expires_at": room.expires_at,
        "closed_at": room.closed_at,
        "geofence": geofence_of(room, show_venue=show_venue),
        "member_count": member_count,
        "last_seq": room.last_seq,
    }


def member_public(membership: Membership) -> dict:
    return protocol.member_payload(
        member_id=membership.member_id,
        display_name=membership.display_name,
        avatar=membership.avatar,
        role=membership.role,
    )


def room_detail(*, room: Room, user: User, membership: Membership | None) -> dict:
    """The room as `user` sees it; `membership` is theirs (or None)."""
    current = membership if membership is not None and membership.is_current else None
    can_manage = selectors.user_can_manage_room(user=user, room=room)
    can_moderate = selectors.user_can_moderate_room(user=user, room=room, membership=membership)
    readable = current is not None or can_manage
    data = room_summary(room, member_count=selectors.member_count(room=room), show_venue=can_manage)
    data.update(
        is_member=current is not None,
        my_member_id=current.member_id if current else None,
        my_role=current.role if current else None,
        my_display_name=current.display_name if current else None,
        my_avatar=current.avatar if current else None,
        my_avatar_url=current.avatar_url if current else None,
        can_manage=can_manage,
        can_moderate=can_moderate,
        my_muted_until=current.muted_until if current and current.is_muted() else None,
        slow_mode_seconds=room.slow_mode_seconds,
        posting=room.posting,
        announcement=(
            {"text": room.announcement, "updated_at": room.announcement_updated_at}
            if readable
            else None
        ),
    )
    return RoomDetailSerializer(data).data


# --- Views --------------------------------------------------------------------------------


class RoomListView(APIView):
    throttle_classes = [WritesThrottle, AddressWritesThrottle]
    throttle_scope = "room_create"

    @extend_schema(
        operation_id="rooms_list",
        parameters=[RoomListQuerySerializer],
        responses={200: RoomListSerializer, **error_responses(400, 401)},
        description="Rooms I own and/or am a current member of, newest first, each with my "
        "role (the seed's listChatRoom / listAllChatRoom). Keyset-paged by `cursor`.",
    )
    def get(self, request):
        query = validated_query(RoomListQuerySerializer, request)
        rooms = selectors.rooms_for_user(user=request.user, role=query.get("role"))
        page, cursor = keyset_page(
            rooms,
            time_field="created_at",
            key_field="code",
            descending=True,
            cursor=query.get("cursor"),
            limit=query["limit"],
        )
        results = []
        for room in page:
            manages = selectors.user_can_manage_room(user=request.user, room=room)
            item = room_summary(room, member_count=room.member_count, show_venue=manages)
            # The owner who left their room still owns it.
            item["my_role"] = room.my_role or (
                Membership.Role.OWNER if room.owner_id == request.user.pk else None
            )
            results.append(item)
        return Response(RoomListSerializer({"results": results, "next": cursor}).data)

    @extend_schema(
        operation_id="rooms_create",
        request=RoomCreateSerializer,
        responses={201: RoomDetailSerializer, **error_responses(400, 401, 429)},
        description="Create a room (the seed's createRoom); I become its owner and first "
        "member. Throttled per user (HUILIAO_ROOM_CREATE_RATE) and per client address "
        "(HUILIAO_ROOM_CREATE_ADDRESS_RATE): 429 `throttled`.",
    )
    def post(self, request):
        data = RoomCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fence = data.validated_data["geofence"]
        room = services.room_create(
            owner=request.user,
            name=data.validated_data["name"],
            expires_at=services.expiry_for_new_room(
                owner=request.user, expires_at=data.validated_data["expires_at"]
            ),
            geofence=services.Geofence(**fence) if fence else None,
        )
        membership = selectors.membership_get(room=room, user=request.user)
        return Response(
            room_detail(room=room, user=request.user, membership=membership),
            status=status.HTTP_201_CREATED,
        )


class RoomNearbyView(APIView):
    # Each answer is a distance to a venue: a stream of them from many points would map
    # every fenced room.
    throttle_classes = [LiveScopedRateThrottle, AddressThrottle]
    throttle_scope = "nearby"

    @extend_schema(
        operation_id="rooms_nearby",
        parameters=[NearbyQuerySerializer],
        responses={200: NearbyListSerializer, **error_responses(400, 401, 429)},
        description="Open rooms whose geofence holds the point, nearest first (at most 50), "
        "each with its distance rounded to 10 m and never its venue's point. Throttled per "
        "user (HUILIAO_NEARBY_RATE) and per address: 429 `throttled`.",
    )
    def get(self, request):
        query = validated_query(NearbyQuerySerializer, request)
        rooms = selectors.rooms_nearby(latitude=query["latitude"], longitude=query["longitude"])
        results = [
            {
                "code": room.code,
                "name": room.name,
                "expires_at": room.expires_at,
                "member_count": room.member_count,
                "distance_m": round_distance(room.distance_m),
            }
            for room in rooms
        ]
        return Response(NearbyListSerializer({"results": results}).data)


class RoomDetailView(RoomView):
    # GET: anyone signed in who knows the code.
    permission_map = {"DELETE": CanManageRoom, "PATCH": CanModerateRoom}
    throttle_classes = [WritesThrottle]
    throttle_scope = "moderation"

    @extend_schema(
        operation_id="rooms_get",
        responses={200: RoomDetailSerializer, **error_responses(401, 404, 429)},
        description="Anyone signed in who knows the code sees the room (to decide whether "
        "to enter); the announcement only members and managers.",
    )
    def get(self, request, code):
        return Response(room_detail(room=self.room, user=request.user, membership=self.membership))

    @extend_schema(
        operation_id="rooms_close",
        request=None,
        responses={204: None, **error_responses(401, 403, 404, 429)},
        description="Close the room for good (the seed's destroyChatRoom): nobody enters or "
        "posts, members keep reading its history, every socket gets `room_closed`. Only "
        "its owner or a superuser; closing twice is harmless.",
    )
    def delete(self, request, code):
        services.room_close(room=self.room, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        operation_id="rooms_update",
        request=RoomPatchSerializer,
        responses={200: RoomDetailSerializer, **error_responses(400, 401, 403, 404, 429)},
        description="Change the room's name, expiry, slow mode or who may post (the owner, "
        "moderators, superusers); fields left out keep their value. Pushes `room_updated` "
        "and writes the moderation log. A name goes through the content rules (400 "
        "`content_rejected`).",
    )
    def patch(self, request, code):
        data = RoomPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        services.room_update(
            room=self.room,
            actor=request.user,
            name=fields.get("name"),
            expires_at=fields.get("expires_at", services.NOT_GIVEN),
            slow_mode_seconds=fields.get("slow_mode_seconds"),
            posting=fields.get("posting"),
        )
        return Response(room_detail(room=self.room, user=request.user, membership=self.membership))


class AnnouncementView(RoomView):
    throttle_classes = [WritesThrottle]
    throttle_scope = "announcement"
    permission_map = {"GET": CanReadRoom, "PUT": CanModerateRoom}

    @extend_schema(
        operation_id="rooms_announcement_get",
        responses={200: AnnouncementSerializer, **error_responses(401, 403, 404, 429)},
        description="The room's announcement (the seed's getBBS), for members.",
    )
    def get(self, request, code):
        room = self.room
        return Response(
            AnnouncementSerializer(
                {"text": room.announcement, "updated_at": room.announcement_updated_at}
            ).data
        )

    @extend_schema(
        operation_id="rooms_announcement_set",
        request=AnnouncementSerializer,
        responses={200: AnnouncementSerializer, **error_responses(400, 401, 403, 404, 410, 429)},
        description="Set the announcement (the seed's setBBS): owner or moderators of an "
        "open room. Pushes an `announcement` frame. Throttled per user "
        "(`HUILIAO_ANNOUNCEMENT_RATE`, 429 `throttled`).",
    )
    def put(self, request, code):
        data = AnnouncementSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        selectors.room_check_open(room=self.room)
        room = services.announcement_set(
            room=self.room, text=data.validated_data["text"], actor=request.user
        )
        return Response(
            AnnouncementSerializer(
                {"text": room.announcement, "updated_at": room.announcement_updated_at}
            ).data
        )


class MembersView(RoomView):
    permission_map = {"GET": CanReadRoom}

    @extend_schema(
        operation_id="rooms_members",
        parameters=[CursorQuerySerializer],
        responses={200: MemberListSerializer, **error_responses(400, 401, 403, 404, 429)},
        description="Current members in the order they joined (the seed's getUserCount / "
        "getUserList), keyset-paged by `cursor`. Members and managers only.",
    )
    def get(self, request, code):
        query = validated_query(CursorQuerySerializer, request)
        room = self.room
        page, cursor = keyset_page(
            selectors.members_current(room=room),
            time_field="joined_at",
            key_field="member_id",
            descending=False,
            cursor=query.get("cursor"),
            limit=query["limit"],
        )
        return Response(
            MemberListSerializer(
                {
                    "count": selectors.member_count(room=room),
                    "results": [member_public(membership) for membership in page],
                    "next": cursor,
                }
            ).data
        )


class AvatarListView(APIView):
    # The same few static images for everyone: a picker may show them before login.
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="avatars_list",
        responses={200: AvatarListSerializer},
        description="The preset avatars a member may pick when entering a room (`avatar` in "
        "`POST /api/v1/rooms/{code}/enter`). No authentication needed.",
    )
    def get(self, request):
        return Response(AvatarListSerializer({"results": avatar_list()}).data)
