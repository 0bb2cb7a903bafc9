"""The seed's history package as REST, plus enter/leave (they post the "X joined" /
"X left" notices, and only history writes to the message stream)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from history import selectors, services
from history.events import Viewer, message_payload
from history.models import BODY_MAX, CLIENT_ID_MAX, MENTIONS_MAX, RECALL_SECONDS, Message
from history.selectors import PAGE_DEFAULT, PAGE_MAX
from huiliao_site.api import (
    OneLineTextField,
    StrictCharField,
    UtcDateTimeField,
    both_or_neither,
    error_responses,
    latitude_field,
    longitude_field,
    schema_rule,
    validated_query,
)
from rooms import selectors as room_selectors
from rooms import services as room_services
from rooms.api import (
    MemberSerializer,
    RoomDetailSerializer,
    room_detail,
)
from rooms.models import DISPLAY_NAME_MAX
from rooms.permissions import CanReadRoom, RoomView


def viewer_for(view: RoomView) -> Viewer:
    """Who a message response is for (history.events.Viewer): the caller's member_id in
    the room, and whether they moderate it."""
    membership = view.membership
    current = membership if membership is not None and membership.is_current else None
    moderates = room_selectors.user_can_moderate_room(
        user=view.request.user, room=view.room, membership=membership
    )
    return Viewer(member_id=current.member_id if current else None, moderates=moderates)


class EnterSerializer(serializers.Serializer):
    latitude = latitude_field(
        required=False,
        allow_null=True,
        default=None,
        help_text="With longitude, or neither (400 otherwise): for a geofenced room.",
    )
    longitude = longitude_field(
        required=False, allow_null=True, default=None, help_text="With latitude, or neither."
    )
    display_name = OneLineTextField(
        error_code="invalid_display_name",
        required=False,
        allow_null=True,
        default=None,
        min_length=1,
        max_length=DISPLAY_NAME_MAX,
        help_text="What others see, unique among the room's current members (409 "
        "`display_name_taken`); defaults to my nickname (or my current display name).",
    )
    # Checked by the service (400 `invalid_avatar`), which owns the list of keys.
    # Any JSON value reaches the service, whose one avatar rule answers invalid_avatar with
    # the list of keys (a number included).
    avatar = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        trim_whitespace=False,
        default=None,
        help_text="A preset avatar key from `GET /api/v1/avatars`; absent keeps my current "
        "one (a newcomer gets one drawn from the room and me).",
    )

    def validate(self, attrs):
        if (attrs["latitude"] is None) != (attrs["longitude"] is None):
            raise serializers.ValidationError("Send both latitude and longitude, or neither.")
        return attrs


schema_rule("EnterRequest", both_or_neither("latitude", "longitude"))


class MessagePostSerializer(serializers.Serializer):
    body = StrictCharField(
        max_length=BODY_MAX,
        error_code="invalid_body",
        help_text=f"1 to {BODY_MAX} characters after trimming.",
    )
    client_id = StrictCharField(
        max_length=CLIENT_ID_MAX,
        error_code="invalid_client_id",
        help_text="A fresh id (a UUID) per message: re-sending it returns the stored message.",
    )
    reply_to = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        help_text="The seq of the message this one answers (400 `invalid_reply` if none).",
    )
    mentions = serializers.ListField(
        child=StrictCharField(max_length=32),
        required=False,
        default=list,
        max_length=MENTIONS_MAX,
        help_text="member_ids it @mentions; those no longer in the room are dropped.",
    )


class MessagesQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(
        required=False, min_value=0, help_text="The first `limit` messages above this seq."
    )
    before = serializers.IntegerField(
        required=False, min_value=1, help_text="The last `limit` messages below this seq."
    )
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=PAGE_MAX, default=PAGE_DEFAULT
    )

    def validate(self, attrs):
        if "after" in attrs and "before" in attrs:
            raise serializers.ValidationError("Use either after or before, not both.")
        return attrs


class MessageSerializer(serializers.Serializer):
    """A message in every response: `history.events.message_payload` (the same shape as
    the socket's `message` frame) serialized through this, so the schema is the response."""

    seq = serializers.IntegerField()
    client_id = StrictCharField(allow_null=True)
    sender = MemberSerializer(allow_null=True, help_text="null for system notices.")
    kind = serializers.ChoiceField(choices=Message.Kind.choices)
    event = StrictCharField(
        allow_null=True,
        help_text="A system notice's event (joined, left); its body is worded in the "
        "request's language (a socket's: its ?lang=).",
    )
    body = StrictCharField(
        help_text="Empty when hidden (except to moderators, and to its sender while held "
        "for review) and when recalled."
    )
    hidden = serializers.BooleanField()
    review = serializers.ChoiceField(
        choices=Message.Review.choices,
        help_text="pending: held for a moderator (shown to others as a placeholder); "
        "rejected: a moderator hid it.",
    )
    recalled = serializers.BooleanField(help_text="Taken back by its sender.")
    reply_to = serializers.IntegerField(
        allow_null=True, help_text="The seq of the message this one answers."
    )
    mentions = serializers.ListField(
        child=StrictCharField(), help_text="member_ids of the members it @mentions."
    )
    created_at = UtcDateTimeField()


class MessagePageSerializer(serializers.Serializer):
    results = MessageSerializer(many=True, help_text="Ascending seq.")
    has_more = serializers.BooleanField(
        help_text="More messages exist beyond this page in the direction of travel."
    )


class MessagesInfoSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    first_seq = serializers.IntegerField(allow_null=True)
    last_seq = serializers.IntegerField(allow_null=True)


class EnterView(RoomView):
    @extend_schema(
        operation_id="rooms_enter",
        request=EnterSerializer,
        responses={200: RoomDetailSerializer, **error_responses(400, 401, 403, 404, 409, 410, 429)},
        description="Enter the room (the seed's enterChatRoom), or change my display name "
        "or preset avatar (400 `invalid_avatar` for an unknown key) by entering again. A "
        "display name another current member goes by (compared after NFKC and case "
        "folding) is 409 `display_name_taken`; without one I enter under my nickname, "
        'numbered ("Alice 2") if someone has it. A '
        "geofenced room needs my coordinates (400 `location_required`) within its radius "
        '(403 `outside_geofence`); its owner is always let in. Posts "<name> joined" '
        "when I was not in the room.",
    )
    def post(self, request, code):
        data = EnterSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entry = room_services.Entry(**data.validated_data)
        result = services.member_enter(room=self.room, user=request.user, entry=entry)
        return Response(
            room_detail(room=self.room, user=request.user, membership=result.membership)
        )


class LeaveView(RoomView):
    @extend_schema(
        operation_id="rooms_leave",
        request=None,
        responses={204: None, **error_responses(401, 404, 429)},
        description='Leave the room (the seed\'s leaveChatRoom); posts "<name> left" and '
        "closes my sockets in it. Leaving a room I am not in is harmless.",
    )
    def post(self, request, code):
        services.member_leave(room=self.room, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessagesView(RoomView):
    # POST: the service checks the poster (current, unmuted, open room) under a row lock.
    permission_map = {"GET": CanReadRoom}

    @extend_schema(
        operation_id="rooms_messages_list",
        parameters=[MessagesQuerySerializer],
        responses={200: MessagePageSerializer, **error_responses(400, 401, 403, 404, 429)},
        description="A page of history in ascending seq: `after` catches up, `before` "
        "scrolls back, neither gives the newest page. Members (and managers) only; works "
        "after the room closed.",
    )
    def get(self, request, code):
        query = validated_query(MessagesQuerySerializer, request)
        page, has_more = selectors.messages_page(
            room=self.room,
            after=query.get("after"),
            before=query.get("before"),
            limit=query["limit"],
        )
        viewer = viewer_for(self)
        results = [message_payload(message, viewer) for message in page]
        return Response(MessagePageSerializer({"results": results, "has_more": has_more}).data)

    @extend_schema(
        operation_id="rooms_messages_post",
        request=MessagePostSerializer,
        responses={
            201: MessageSerializer,
            200: MessageSerializer,
            **error_responses(400, 401, 403, 404, 410, 429),
        },
        description="Post a message (the seed's appendHistory): current, unmuted members of "
        "an open room. 201 when stored; 200 with the stored message when this `client_id` "
        "was already posted by me (nothing is stored twice). 429 `rate_limited` with "
        "`Retry-After` past HUILIAO_POST_RATE_COUNT messages in HUILIAO_POST_RATE_SECONDS.",
    )
    def post(self, request, code):
        data = MessagePostSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message, created = services.message_post(
            room=self.room, user=request.user, **data.validated_data
        )
        return Response(
            MessageSerializer(message_payload(message, viewer_for(self))).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class MessagesInfoView(RoomView):
    permission_map = {"GET": CanReadRoom}

    @extend_schema(
        operation_id="rooms_messages_info",
        responses={200: MessagesInfoSerializer, **error_responses(401, 403, 404, 429)},
        description="How much history there is (the seed's getHistoryCount / getHistoryListInfo).",
    )
    def get(self, request, code):
        return Response(MessagesInfoSerializer(selectors.messages_info(room=self.room)).data)


class MessageDetailView(RoomView):
    # DELETE: the service lets only the message's sender recall it.
    permission_map = {"GET": CanReadRoom}

    @extend_schema(
        operation_id="rooms_messages_get",
        responses={200: MessageSerializer, **error_responses(401, 403, 404, 429)},
        description="One message by its seq (the seed's getHistory).",
    )
    def get(self, request, code, seq):
        message = selectors.message_get(room=self.room, seq=seq)
        return Response(MessageSerializer(message_payload(message, viewer_for(self))).data)

    @extend_schema(
        operation_id="rooms_messages_recall",
        request=None,
        responses={204: None, **error_responses(401, 403, 404, 410, 429)},
        description=f"Recall my own message within {RECALL_SECONDS // 60} minutes (403 "
        "`recall_expired` after, `not_sender` for anyone else's): its seq stays, its body "
        "is shown to nobody, and the room gets `message_recalled`. Twice is harmless.",
    )
    def delete(self, request, code, seq):
        message = selectors.message_get(room=self.room, seq=seq)
        services.message_recall(message=message, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SearchQuerySerializer(serializers.Serializer):
    q = StrictCharField(min_length=1, max_length=selectors.SEARCH_MAX, help_text="Words to find.")
    before = serializers.IntegerField(
        required=False, min_value=1, help_text="The next page: `next` of the previous one."
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=PAGE_MAX, default=20)


class SearchPageSerializer(serializers.Serializer):
    results = MessageSerializer(many=True, help_text="Newest first.")
    next = serializers.IntegerField(allow_null=True, help_text="`before` for the next page.")


class MessagesSearchView(RoomView):
    permission_map = {"GET": CanReadRoom}

    @extend_schema(
        operation_id="rooms_messages_search",
        parameters=[SearchQuerySerializer],
        responses={200: SearchPageSerializer, **error_responses(400, 401, 403, 404, 429)},
        description="Search the room's history (members and managers): members' messages "
        "containing `q`, newest first, keyset-paged by `before`.",
    )
    def get(self, request, code):
        query = validated_query(SearchQuerySerializer, request)
        text = query["q"].strip()
        if not text:
            return Response(SearchPageSerializer({"results": [], "next": None}).data)
        page, after = selectors.messages_search(
            room=self.room, query=text, before=query.get("before"), limit=query["limit"]
        )
        viewer = viewer_for(self)
        results = [message_payload(message, viewer) for message in page]
        return Response(SearchPageSerializer({"results": results, "next": after}).data)
