"""Contact exchange by mutual consent (docs/contacts.md): my private card in a room, asking
another member by member_id, and accepting or (silently) declining."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from huiliao_site.api import StrictCharField, error_responses
from huiliao_site.errors import NotFound
from huiliao_site.throttles import WritesThrottle
from rooms import selectors, services
from rooms.avatars import AVATAR_CHOICES
from rooms.models import CONTACT_CARD_MAX, ContactRequest, Membership
from rooms.permissions import RoomView


class MeInRoomSerializer(serializers.Serializer):
    member_id = StrictCharField(read_only=True)
    display_name = StrictCharField(read_only=True)
    avatar = serializers.ChoiceField(choices=AVATAR_CHOICES, read_only=True)
    contact_card = StrictCharField(
        allow_blank=True,
        max_length=CONTACT_CARD_MAX,
        error_code="invalid_contact_card",
        help_text="Private: shown only to members I accept an exchange with. Empty: none.",
    )


class ContactMemberSerializer(serializers.Serializer):
    member_id = StrictCharField()
    display_name = StrictCharField()


class ContactSerializer(serializers.Serializer):
    id = StrictCharField()
    direction = serializers.ChoiceField(choices=["in", "out"])
    member = ContactMemberSerializer(help_text="The other member.")
    status = serializers.ChoiceField(
        choices=["pending", "accepted"], help_text="A declined request stays pending to its asker."
    )
    card = StrictCharField(allow_null=True, help_text="Their card, once accepted; else null.")


class ContactListSerializer(serializers.Serializer):
    results = ContactSerializer(many=True)


class ContactAskSerializer(serializers.Serializer):
    member_id = StrictCharField(max_length=32)


def contact_item(request: ContactRequest, me: Membership) -> dict:
    outgoing = request.asker_id == me.pk
    other = request.recipient if outgoing else request.asker
    accepted = request.status == ContactRequest.Status.ACCEPTED
    return {
        "id": request.public_id,
        "direction": "out" if outgoing else "in",
        "member": {"member_id": other.member_id, "display_name": other.display_name},
        "status": "accepted" if accepted else "pending",
        "card": other.contact_card if accepted else None,
    }


class MemberRoomView(RoomView):
    """A view for the room's current members only (403 `not_member`, `banned`)."""

    def me(self) -> Membership:
        return selectors.membership_get_current(room=self.room, user=self.request.user)


class MeInRoomView(MemberRoomView):
    throttle_classes = [WritesThrottle]
    throttle_scope = "moderation"

    @extend_schema(
        operation_id="rooms_me_get",
        responses={200: MeInRoomSerializer, **error_responses(401, 403, 404, 429)},
        description="Me in this room, with my private contact card.",
    )
    def get(self, request, code):
        me = self.me()
        return Response(MeInRoomSerializer(me).data)

    @extend_schema(
        operation_id="rooms_me_update",
        request=MeInRoomSerializer,
        responses={200: MeInRoomSerializer, **error_responses(400, 401, 403, 404, 429)},
        description="Set my private contact card for this room (up to 200 characters).",
    )
    def patch(self, request, code):
        me = self.me()
        data = MeInRoomSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.contact_card_set(membership=me, card=data.validated_data["contact_card"])
        return Response(MeInRoomSerializer(me).data)


class ContactsView(MemberRoomView):
    throttle_classes = [WritesThrottle]
    throttle_scope = "contact"

    @extend_schema(
        operation_id="rooms_contacts_list",
        responses={200: ContactListSerializer, **error_responses(401, 403, 404, 429)},
        description="My contact requests in this room, both ways, newest first.",
    )
    def get(self, request, code):
        me = self.me()
        rows = selectors.contact_requests_mine(membership=me)
        return Response(
            ContactListSerializer({"results": [contact_item(row, me) for row in rows]}).data
        )

    @extend_schema(
        operation_id="rooms_contacts_ask",
        request=ContactAskSerializer,
        responses={201: ContactSerializer, **error_responses(400, 401, 403, 404, 409, 429)},
        description="Ask a member (by member_id) to swap contact cards: they alone get "
        "`contact_request`. I need a card myself (400 `contact_card_required`). Once per "
        "member (409 `already_asked`); if they already asked me, this accepts theirs. "
        "Throttled per user (HUILIAO_CONTACT_RATE, 20/hour); muted members cannot ask.",
    )
    def post(self, request, code):
        me = self.me()
        data = ContactAskSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        target = selectors.membership_get_by_member_id(
            room=self.room, member_id=data.validated_data["member_id"]
        )
        if not target.is_current:
            raise NotFound("No such member in this room.", code="member_not_found")
        row = services.contact_ask(room=self.room, asker=me, recipient=target)
        return Response(
            ContactSerializer(contact_item(row, me)).data, status=status.HTTP_201_CREATED
        )


class ContactAnswerView(MemberRoomView):
    accept = True

    def post(self, request, code, request_id):
        me = self.me()
        row = selectors.contact_request_for_recipient(membership=me, request_id=request_id)
        if self.accept:
            services.contact_accept(request=row)
            return Response(ContactSerializer(contact_item(row, me)).data)
        services.contact_decline(request=row)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ContactAcceptView(ContactAnswerView):
    @extend_schema(
        operation_id="rooms_contacts_accept",
        request=None,
        responses={200: ContactSerializer, **error_responses(400, 401, 403, 404, 429)},
        description="Accept a request made to me: both of us get `contact_shared` with the "
        "other's card. I need a card myself (400 `contact_card_required`).",
    )
    def post(self, request, code, request_id):
        return super().post(request, code, request_id)


class ContactDeclineView(ContactAnswerView):
    accept = False

    @extend_schema(
        operation_id="rooms_contacts_decline",
        request=None,
        responses={204: None, **error_responses(401, 403, 404, 429)},
        description="Decline a request made to me. Silent: the asker keeps seeing pending.",
    )
    def post(self, request, code, request_id):
        return super().post(request, code, request_id)
