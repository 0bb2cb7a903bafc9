"""The message frame: the one shape a message has in REST responses and on the socket."""

from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from history.models import Message
from rooms import protocol
from rooms.avatars import avatar_default, avatar_url
from rooms.models import Membership
from rooms.protocol import Frame, iso_datetime


def with_sender_names(messages: QuerySet[Message]) -> QuerySet[Message]:
    """Annotate each message with its sender's current display name and preset avatar in
    the room."""
    membership = Membership.objects.filter(room=OuterRef("room_id"), user=OuterRef("sender_id"))
    return messages.select_related("sender").annotate(
        sender_display_name=Subquery(membership.values("display_name")[:1]),
        sender_avatar=Subquery(membership.values("avatar")[:1]),
    )


def message_payload(
    message: Message, *, display_name: str | None = None, avatar: str | None = None
) -> dict[str, Any]:
    sender = None
    if message.sender_id is not None:
        name = display_name or getattr(message, "sender_display_name", None)
        key = avatar or getattr(message, "sender_avatar", None)
        if not key:
            # Only a message read without with_sender_names gets here (the room is then
            # fetched once): still the room's preset, never the account's own avatar.
            key = avatar_default(room_code=message.room.code, user_id=message.sender_id)
        # The account's avatar_url (a WeChat photo) would unmask the display name: rooms
        # show the member's preset instead, under the same key for older clients.
        sender = {
            "id": str(message.sender_id),
            "display_name": name or message.sender.public_name,
            "avatar": key,
            "avatar_url": avatar_url(key),
        }
    return {
        "seq": message.seq,
        "client_id": message.client_id,
        "sender": sender,
        "kind": message.kind,
        "body": "" if message.hidden else message.body,
        "hidden": message.hidden,
        "created_at": iso_datetime(message.created_at),
    }


def message_frame(
    message: Message, *, display_name: str | None = None, avatar: str | None = None
) -> Frame:
    return protocol.message_frame(
        message_payload(message, display_name=display_name, avatar=avatar)
    )


def message_restored_frame(message: Message) -> Frame:
    """A hidden message shown again (moderation undone): clients replace it in place."""
    return protocol.message_restored_frame(message_payload(message))
