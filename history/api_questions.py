"""Q&A (Slido-style): ask, vote, list by top or new; managers mark answered, hide, or
promote a chat message into a question (docs/qa.md)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from history import selectors, services
from history.api import viewer_for
from history.events import question_payload
from history.models import CLIENT_ID_MAX, QUESTION_MAX, Question
from huiliao_site.api import (
    LIST_DEFAULT,
    LIST_MAX,
    StrictCharField,
    UtcDateTimeField,
    error_responses,
    validated_query,
)
from huiliao_site.throttles import WritesThrottle
from rooms.models import Membership
from rooms.permissions import CanModerateRoom, CanReadRoom, RoomView


class QuestionAuthorSerializer(serializers.Serializer):
    member_id = StrictCharField()
    display_name = StrictCharField()
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class QuestionSerializer(serializers.Serializer):
    id = StrictCharField(help_text="The question's id in this room.")
    body = StrictCharField(help_text="Empty for a hidden question, except to managers.")
    author = QuestionAuthorSerializer(
        allow_null=True, help_text="null when anonymous (managers still see who asked)."
    )
    anonymous = serializers.BooleanField()
    votes = serializers.IntegerField()
    my_vote = serializers.BooleanField(
        allow_null=True, help_text="Whether I voted for it (null in live frames)."
    )
    status = serializers.ChoiceField(choices=Question.Status.choices)
    created_at = UtcDateTimeField()
    answered_at = UtcDateTimeField(allow_null=True)


class QuestionListSerializer(serializers.Serializer):
    results = QuestionSerializer(many=True)
    next = StrictCharField(allow_null=True)


class QuestionAskSerializer(serializers.Serializer):
    body = StrictCharField(
        max_length=QUESTION_MAX, error_code="invalid_question", help_text="1 to 300 characters."
    )
    client_id = StrictCharField(
        max_length=CLIENT_ID_MAX,
        error_code="invalid_client_id",
        help_text="A fresh id per question: asking again with it returns the stored one.",
    )
    anonymous = serializers.BooleanField(
        required=False, default=False, help_text="Shown as Anonymous to all but managers."
    )


class QuestionQuerySerializer(serializers.Serializer):
    sort = serializers.ChoiceField(choices=selectors.QUESTION_SORTS, required=False, default="top")
    status = serializers.ChoiceField(
        choices=Question.Status.choices,
        required=False,
        default=Question.Status.OPEN,
        help_text="hidden: managers only.",
    )
    cursor = StrictCharField(required=False, max_length=200)
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=LIST_MAX, default=LIST_DEFAULT
    )


def question_response(view: RoomView, question: Question, my_vote: bool | None) -> dict:
    return QuestionSerializer(question_payload(question, viewer_for(view), my_vote)).data


class QuestionsView(RoomView):
    permission_map = {"GET": CanReadRoom}
    throttle_classes = [WritesThrottle]
    throttle_scope = "question"

    @extend_schema(
        operation_id="rooms_questions_list",
        parameters=[QuestionQuerySerializer],
        responses={200: QuestionListSerializer, **error_responses(400, 401, 403, 404, 429)},
        description="Questions by `top` (votes, then age) or `new`, `open` or `answered` "
        "(`hidden` for managers), keyset-paged by `cursor`, each with `my_vote`.",
    )
    def get(self, request, code):
        query = validated_query(QuestionQuerySerializer, request)
        viewer = viewer_for(self)
        if query["status"] == Question.Status.HIDDEN and not viewer.moderates:
            return Response(QuestionListSerializer({"results": [], "next": None}).data)
        page, cursor = selectors.questions_page(
            room=self.room,
            sort=query["sort"],
            status=query["status"],
            cursor=query.get("cursor"),
            limit=query["limit"],
        )
        current = self.membership if viewer.member_id else None
        voted = selectors.my_votes(membership=current, questions=page)
        results = [question_payload(question, viewer, question.pk in voted) for question in page]
        return Response(QuestionListSerializer({"results": results, "next": cursor}).data)

    @extend_schema(
        operation_id="rooms_questions_ask",
        request=QuestionAskSerializer,
        responses={
            201: QuestionSerializer,
            200: QuestionSerializer,
            **error_responses(400, 401, 403, 404, 410, 429),
        },
        description="Ask a question: current, unmuted members of an open room (also in a "
        "broadcast room). 201 when stored, 200 when this `client_id` was already asked. "
        "Content rules refuse it with 400 `content_rejected`. Pushes `question`.",
    )
    def post(self, request, code):
        data = QuestionAskSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        question, created = services.question_ask(
            room=self.room, user=request.user, **data.validated_data
        )
        return Response(
            question_response(self, question, False if created else None),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class VoteView(RoomView):
    throttle_classes = [WritesThrottle]
    throttle_scope = "vote"

    def vote(self, request, question_id, up: bool):
        question = selectors.question_get(room=self.room, question_id=question_id)
        question = services.question_vote(question=question, user=request.user, up=up)
        return Response(question_response(self, question, up))

    @extend_schema(
        operation_id="rooms_questions_vote",
        request=None,
        responses={200: QuestionSerializer, **error_responses(401, 403, 404, 409, 410, 429)},
        description="Vote for an open question (once per member; voting again is harmless). "
        "409 `question_not_open` for answered or hidden ones. The room gets "
        "`question_votes`, at most twice a second per question.",
    )
    def post(self, request, code, question_id):
        return self.vote(request, question_id, True)

    @extend_schema(
        operation_id="rooms_questions_unvote",
        request=None,
        responses={200: QuestionSerializer, **error_responses(401, 403, 404, 409, 410, 429)},
        description="Take my vote back.",
    )
    def delete(self, request, code, question_id):
        return self.vote(request, question_id, False)


class QuestionStatusView(RoomView):
    permission_map = {"POST": CanModerateRoom}
    throttle_classes = [WritesThrottle]
    throttle_scope = "moderation"
    new_status = Question.Status.ANSWERED

    def post(self, request, code, question_id):
        question = selectors.question_get(room=self.room, question_id=question_id)
        services.question_set_status(question=question, status=self.new_status, actor=request.user)
        return Response(question_response(self, question, None))


def status_schema(name: str, description: str):
    return extend_schema(
        operation_id=f"rooms_questions_{name}",
        request=None,
        responses={200: QuestionSerializer, **error_responses(401, 403, 404, 429)},
        description=description + " The owner, moderators and superusers; pushes `question` "
        "and writes the moderation log.",
    )


class AnsweredView(QuestionStatusView):
    @status_schema("answered", "Mark a question answered.")
    def post(self, request, code, question_id):
        return super().post(request, code, question_id)


class HideQuestionView(QuestionStatusView):
    new_status = Question.Status.HIDDEN

    @status_schema("hide", "Hide a question from everyone.")
    def post(self, request, code, question_id):
        return super().post(request, code, question_id)


class ReopenQuestionView(QuestionStatusView):
    new_status = Question.Status.OPEN

    @status_schema("reopen", "Open an answered or hidden question again.")
    def post(self, request, code, question_id):
        return super().post(request, code, question_id)


class PromoteView(RoomView):
    permission_map = {"POST": CanModerateRoom}
    throttle_classes = [WritesThrottle]
    throttle_scope = "moderation"

    @extend_schema(
        operation_id="rooms_messages_promote",
        request=None,
        responses={200: QuestionSerializer, **error_responses(400, 401, 403, 404, 429)},
        description="Turn a member's chat message into a question in their name (once: "
        "promoting again returns it). Pushes `question`.",
    )
    def post(self, request, code, seq):
        message = selectors.message_get(room=self.room, seq=seq)
        question = services.message_promote(message=message, actor=request.user)
        return Response(question_response(self, question, None))
