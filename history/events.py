"""The message frame: the one shape a message has in REST responses and on the socket."""

from dataclasses import dataclass
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from history.models import Message, Question
from history.notices import notice_text
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


@dataclass(frozen=True)
class Viewer:
    """Who a REST response is for, where a message reads differently to some: its sender
    sees their own held text, and moderators see what they hid (to undo it)."""

    member_id: str | None = None
    moderates: bool = False


def shown_body(message: Message, viewer: Viewer | None) -> str:
    if message.event:
        return notice_text(message.event, message.params or {})  # the active language
    if message.recalled_at is not None:
        return ""  # taken back: nobody sees it any more (the admin still does)
    if not message.hidden:
        return message.body
    if viewer is None:
        return ""  # a live frame goes to everyone: the placeholder
    if viewer.moderates:
        return message.body
    own = viewer.member_id is not None and viewer.member_id == getattr(
        message, "sender_member_id", None
    )
    if own and message.review != Message.Review.NONE:
        return message.body  # held for review: its sender still sees what they wrote
    return ""


def message_payload(message: Message, viewer: Viewer | None = None) -> dict[str, Any]:
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
        "event": message.event or None,
        "body": shown_body(message, viewer),
        "hidden": message.hidden,
        "review": message.review,
        "recalled": message.recalled_at is not None,
        "reply_to": message.reply_to,
        "mentions": message.mentions or [],
        "created_at": iso_datetime(message.created_at),
    }


def message_frame(message: Message, viewer: Viewer | None = None) -> Frame:
    return protocol.message_frame(message_payload(message, viewer))


def message_notice(message: Message) -> dict[str, Any] | None:
    """What a hub needs to word a notice per language (None for other messages)."""
    if not message.event:
        return None
    return {"event": message.event, "params": message.params or {}}


def frame_in_language(frame: Frame, notice: dict[str, Any], language: str) -> Frame:
    """A notice's `message` frame with its body in `language`."""
    body = notice_text(notice["event"], notice.get("params") or {}, language)
    return {**frame, "message": {**frame["message"], "body": body}}


def message_restored_frame(message: Message) -> Frame:
    """A hidden message shown again (moderation undone): clients replace it in place."""
    return protocol.message_restored_frame(message_payload(message))


def question_author(question: Question, viewer: Viewer | None) -> dict[str, Any] | None:
    """The author as the room knows them; None for an anonymous question, except to the
    room's managers (who answer for what is asked) and to its author."""
    author = question.author
    own = viewer is not None and viewer.member_id == author.member_id
    if question.anonymous and not (viewer is not None and viewer.moderates) and not own:
        return None
    return {"member_id": author.member_id, "display_name": author.display_name, "role": author.role}


def question_payload(
    question: Question, viewer: Viewer | None = None, my_vote: bool | None = None
) -> dict[str, Any]:
    hidden = question.status == Question.Status.HIDDEN
    shown = not hidden or (viewer is not None and viewer.moderates)
    return {
        "id": question.public_id,
        "body": question.body if shown else "",
        "author": question_author(question, viewer) if shown else None,
        "anonymous": question.anonymous,
        "votes": question.votes,
        "my_vote": my_vote,
        "status": question.status,
        "created_at": iso_datetime(question.created_at),
        "answered_at": iso_datetime(question.answered_at),
    }


def question_frame(question: Question) -> Frame:
    return protocol.question_frame(question_payload(question))
