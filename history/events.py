"""The message frame: the one shape a message has in REST responses and on the socket."""

from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from history.models import Message
from rooms import protocol
from rooms.models import Membership
from rooms.protocol import Frame, iso_datetime

# What a message shows of its sender: their identity in this room, read at read time (a
# rename shows on old messages too; names are unique among current members, so a rename
# cannot take over someone else's).
SENDER_FIELDS = ("member_id", "display_name", "avatar", "role")


def with_sender_names(messages: QuerySet[Message]) -> QuerySet[Message]:
    """Annotate each message with its sender's member_id, display name, preset avatar and
    role in the room (`sender_member_id`, …), one indexed look-up each."""
    membership = Membership.objects.filter(room=OuterRef("room_id"), user=OuterRef("sender_id"))
    return messages.annotate(
        **{f"sender_{field}": Subquery(membership.values(field)[:1]) for field in SENDER_FIELDS}
    )


def sender_from_membership(message: Message, membership: Membership) -> Message:
    """Give a message just stored the annotations with_sender_names would read."""
    for field in SENDER_FIELDS:
        setattr(message, f"sender_{field}", getattr(membership, field))
    return message


def message_payload(message: Message) -> dict[str, Any]:
    sender = None
    # A notice's stored sender is the member it reports on, for their budget: not shown.
    if message.sender_id is not None and message.kind == Message.Kind.TEXT:
        sender = protocol.member_payload(
            **{field: getattr(message, f"sender_{field}") for field in SENDER_FIELDS}
        )
    return {
        "seq": message.seq,
        "client_id": message.client_id,
        "sender": sender,
        "kind": message.kind,
        "body": "" if message.hidden else message.body,
        "hidden": message.hidden,
        "created_at": iso_datetime(message.created_at),
    }


def message_frame(message: Message) -> Frame:
    return protocol.message_frame(message_payload(message))


def message_restored_frame(message: Message) -> Frame:
    """A hidden message shown again (moderation undone): clients replace it in place."""
    return protocol.message_restored_frame(message_payload(message))
