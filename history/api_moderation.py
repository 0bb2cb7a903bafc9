"""Moderating messages (docs/moderation.md): hide and keep (which settle reports and held
messages), the members' reports, the moderators' queue, and a sender's recall."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from history import selectors, services
from history.api import MessageSerializer, viewer_for
from history.events import message_payload
from huiliao_site.api import StrictCharField, UtcDateTimeField, error_responses, validated_query
from huiliao_site.throttles import WritesThrottle
from rooms import selectors as room_selectors
from rooms.models import REPORT_TEXT_MAX, Report
from rooms.permissions import CanModerateRoom, RoomView


class MessageModerationView(RoomView):
    permission_map = {"POST": CanModerateRoom}
    throttle_classes = [WritesThrottle]
    throttle_scope = "moderation"
    hide = True

    def post(self, request, code, seq):
        message = selectors.message_get(room=self.room, seq=seq)
        if self.hide:
            services.message_hide(message=message, actor=request.user)
        else:
            services.message_unhide(message=message, actor=request.user)
        # The services change `message` in place; its sender was read with it.
        return Response(MessageSerializer(message_payload(message, viewer_for(self))).data)


class HideView(MessageModerationView):
    @extend_schema(
        operation_id="rooms_messages_hide",
        request=None,
        responses={200: MessageSerializer, **error_responses(401, 403, 404, 429)},
        description="Hide a message from everyone (the owner, moderators, superusers): "
        "pushes `message_hidden`, rejects it if it was held for review, and settles its "
        "open reports as hidden. Writes the moderation log.",
    )
    def post(self, request, code, seq):
        return super().post(request, code, seq)


class UnhideView(MessageModerationView):
    hide = False

    @extend_schema(
        operation_id="rooms_messages_unhide",
        request=None,
        responses={200: MessageSerializer, **error_responses(401, 403, 404, 429)},
        description="Keep a message: show it again (`message_restored`), approve it if it "
        "was held for review, and settle its open reports as kept. Writes the moderation log.",
    )
    def post(self, request, code, seq):
        return super().post(request, code, seq)


class ReportSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=Report.Reason.choices)
    text = StrictCharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=REPORT_TEXT_MAX,
        help_text="Anything the moderators should know.",
    )


class ReportedSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    reason = serializers.ChoiceField(choices=Report.Reason.choices)
    created_at = UtcDateTimeField()


class ReportView(RoomView):
    # Current members only (the service checks the message).
    throttle_classes = [WritesThrottle]
    throttle_scope = "report"

    @extend_schema(
        operation_id="rooms_messages_report",
        request=ReportSerializer,
        responses={201: ReportedSerializer, **error_responses(400, 401, 403, 404, 409, 429)},
        description="Report someone else's message to the room's moderators, once (409 "
        "`already_reported`). At HUILIAO_REPORT_HIDE_THRESHOLD (default 3) members' "
        "reports it is hidden until a moderator decides. Throttled per user "
        "(HUILIAO_REPORT_RATE). Nobody learns who reported.",
    )
    def post(self, request, code, seq):
        membership = room_selectors.membership_get_current(room=self.room, user=request.user)
        data = ReportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = selectors.message_get(room=self.room, seq=seq)
        report = services.message_report(
            message=message, reporter=membership, **data.validated_data
        )
        return Response(
            ReportedSerializer(
                {"seq": report.seq, "reason": report.reason, "created_at": report.created_at}
            ).data,
            status=status.HTTP_201_CREATED,
        )


class QueueQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(
        required=False, min_value=0, default=0, help_text="The page after this seq."
    )


class ReportSummarySerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Open reports.")
    reasons = serializers.DictField(
        child=serializers.IntegerField(), help_text="Open reports per reason."
    )
    notes = serializers.ListField(
        child=StrictCharField(), help_text="What reporters wrote (never who they are)."
    )


class QueueItemSerializer(serializers.Serializer):
    message = MessageSerializer(help_text="With its text, for moderators.")
    held = serializers.BooleanField(help_text="Held by a content rule, WeChat, or reporters.")
    reports = ReportSummarySerializer()


class QueueSerializer(serializers.Serializer):
    results = QueueItemSerializer(many=True, help_text="Oldest first.")
    next = serializers.IntegerField(allow_null=True, help_text="`after` for the next page.")


class QueueView(RoomView):
    permission_map = {"GET": CanModerateRoom}

    @extend_schema(
        operation_id="rooms_reports",
        parameters=[QueueQuerySerializer],
        responses={200: QueueSerializer, **error_responses(400, 401, 403, 404, 429)},
        description="The moderators' queue: messages held for review or with open reports, "
        "oldest first. Settle each with `hide` or `unhide` (keep); mute or ban the "
        "sender by their member_id.",
    )
    def get(self, request, code):
        query = validated_query(QueueQuerySerializer, request)
        items, next_after = selectors.review_queue(room=self.room, after=query["after"])
        viewer = viewer_for(self)
        results = [
            {
                "message": message_payload(item.message, viewer),
                "held": item.message.review == item.message.Review.PENDING,
                "reports": {"count": item.count, "reasons": item.reasons, "notes": item.notes},
            }
            for item in items
        ]
        return Response(QueueSerializer({"results": results, "next": next_after}).data)
