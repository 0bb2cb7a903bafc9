"""The message frame: the one shape a message has in REST responses and on the socket."""

from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from history.models import Message
from rooms.events import Frame, iso_datetime
from rooms.models import Membership


def with_sender_names(messages: QuerySet[Message]) -> QuerySet[Message]:
    """Annotate each message with its sender's current display name in the room."""
    names = Membership.objects.filter(room=OuterRef("room_id"), user=OuterRef("sender_id"))
    return messages.select_related("sender").annotate(
        sender_display_name=Subquery(names.values("display_name")[:1])
    )


def message_payload(message: Message, *, display_name: str | None = None) -> dict[str, Any]:
    sender = None
    if message.sender_id is not None:
        name = display_name or getattr(message, "sender_display_name", None)
        sender = {
            "id": str(message.sender_id),
            "display_name": name or message.sender.public_name,
            "avatar_url": message.sender.avatar_url,
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


def message_frame(message: Message, *, display_name: str | None = None) -> Frame:
    return {"type": "message", "message": message_payload(message, display_name=display_name)}


def message_restored_frame(message: Message) -> Frame:
    """A hidden message shown again (moderation undone): clients replace it in place."""
    return {"type": "message_restored", "message": message_payload(message)}
