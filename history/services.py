"""Every write to the message stream: chat messages, join/leave notices, moderation."""

from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from history import selectors
from history.events import message_frame, message_restored_frame, sender_from_membership
from history.models import BODY_MAX, CLIENT_ID_MAX, Message
from history.selectors import PurgeCounts
from huiliao_site.errors import DomainError, InvalidInput
from huiliao_site.text import is_valid_unicode
from rooms import events, protocol
from rooms import selectors as room_selectors
from rooms import services as room_services
from rooms.models import Membership, Room


def clean_body(body) -> str:
    if not isinstance(body, str):
        raise InvalidInput("body must be a string.", code="invalid_body")
    if not is_valid_unicode(body):
        raise InvalidInput("body must be valid Unicode text.", code="invalid_body")
    if "\x00" in body:
        # PostgreSQL cannot store a NUL in text (REST refuses it in the serializer already).
        raise InvalidInput("body must not contain null characters.", code="invalid_body")
    body = body.strip()
    if not body:
        raise InvalidInput("body must not be blank.", code="invalid_body")
    if len(body) > BODY_MAX:
        raise InvalidInput(f"body must be at most {BODY_MAX} characters.", code="invalid_body")
    return body


def clean_client_id(client_id) -> str:
    if not isinstance(client_id, str) or not client_id.strip():
        raise InvalidInput(
            "client_id is required (a fresh UUID per message).", code="invalid_client_id"
        )
    client_id = client_id.strip()
    if not is_valid_unicode(client_id):
        raise InvalidInput("client_id must be valid Unicode text.", code="invalid_client_id")
    if "\x00" in client_id:
        raise InvalidInput("client_id must not contain null characters.", code="invalid_client_id")
    if len(client_id) > CLIENT_ID_MAX:
        raise InvalidInput(
            f"client_id must be at most {CLIENT_ID_MAX} characters.", code="invalid_client_id"
        )
    return client_id


def _store(
    *,
    room: Room,
    sender: User | None,
    kind: str,
    body: str,
    client_id: str | None,
    membership: Membership | None = None,
) -> Message:
    """Store a message under the room's next seq and publish it after commit."""
    # Chat messages need the room open at the very moment they get their seq.
    seq = room_services.room_next_seq(room=room, require_open=kind == Message.Kind.TEXT)
    message = Message.objects.create(
        room=room,
        seq=seq,
        sender=sender,
        kind=kind,
        body=body,
        client_id=client_id,
        created_at=timezone.now(),
    )
    if membership is not None:
        sender_from_membership(message, membership)
    events.publish(room, message_frame(message))
    return message


def message_post(*, room: Room, user: User, body, client_id) -> tuple[Message, bool]:
    """Post a chat message as `user`. Returns (message, created).

    The same `client_id` from the same sender returns the stored message (created=False)
    and stores nothing, however many times and however concurrently it is re-sent. Checks
    open room, current membership, mute and the posting throttle — the same for REST and
    the socket.
    """
    body = clean_body(body)
    client_id = clean_client_id(client_id)
    try:
        return _message_store_new(room=room, user=user, body=body, client_id=client_id), True
    except (IntegrityError, DomainError):
        # A re-send of a stored message (this one, or a concurrent re-send that won the
        # race: its seq was rolled back with ours, so the sequence keeps no gap) returns
        # it, even once the room has closed or the sender is throttled. Looked up only
        # here, so the usual first send costs no extra query.
        existing = selectors.message_find_by_client_id(room=room, sender=user, client_id=client_id)
        if existing is None:
            raise
        return existing, False


@transaction.atomic
def _message_store_new(*, room: Room, user: User, body: str, client_id: str) -> Message:
    membership = room_selectors.membership_lock_for_posting(room=room, user=user)
    room_selectors.membership_check_can_post(room=room, membership=membership)
    selectors.throttle_check_post(room=room, user=user)
    message = _store(
        room=room,
        sender=user,
        kind=Message.Kind.TEXT,
        body=body,
        client_id=client_id,
        membership=membership,
    )
    return message


def system_message_post(*, room: Room, body: str, actor: User | None = None) -> Message:
    """A notice from the room itself. `actor`, the member whose act it reports, is stored
    as its sender (never shown: notices have no sender in any payload) so that their
    notices count against their posting budget like their messages do."""
    return _store(room=room, sender=actor, kind=Message.Kind.SYSTEM, body=body, client_id=None)


def _notice_allowed(*, room: Room, membership: Membership) -> bool:
    """Whether a member's enter or leave may post its notice: never for a muted member
    (a mute would otherwise leave them a voice, the name in "X joined"), nor past their
    posting budget (enter/leave loops would flood the room)."""
    if membership.is_muted():
        return False
    return selectors.post_budget_left(room=room, user=membership.user_id) > 0


def _joined_text(name: str) -> str:
    # In the language of the request that caused it (the seed's "<name> 进入房间").
    return gettext("%(name)s joined") % {"name": name}


def _left_text(name: str) -> str:
    return gettext("%(name)s left") % {"name": name}


@transaction.atomic
def member_enter(
    *,
    room: Room,
    user: User,
    entry: room_services.Entry | None = None,
) -> room_services.EnterResult:
    """The whole act of entering a room: admit the member (rooms.services.membership_admit),
    then post "<name> joined" when they were not in it, unless
    they are muted. The notice counts against their posting budget: past it, entering is
    refused with 429 `rate_limited` and nothing changes."""
    entry = entry or room_services.Entry()
    result = room_services.membership_admit(room=room, user=user, entry=entry)
    if result.joined:
        if not result.membership.is_muted():
            # Entering is posting: past the budget it is refused (429), like a message.
            selectors.throttle_check_post(room=room, user=user)
            system_message_post(
                room=room, body=_joined_text(result.membership.display_name), actor=user
            )
        else:
            # No notice to count, but each return still reaches every socket (the member
            # count): a muted member's comings and goings get the same budget.
            selectors.throttle_check_muted_rejoin(room=room, user=user)
    return result


@transaction.atomic
def member_leave(*, room: Room, user: User) -> Membership | None:
    """Leave a room; posts "<name> left" when they were in it."""
    membership = room_services.membership_leave(room=room, user=user)
    # Leaving always works; only its notice is subject to the member's voice and budget.
    if (
        membership is not None
        and room.is_open()
        and _notice_allowed(room=room, membership=membership)
    ):
        system_message_post(room=room, body=_left_text(membership.display_name), actor=user)
    return membership


@transaction.atomic
def message_set_hidden(*, message: Message, hidden: bool) -> Message:
    """Hide a message from everyone (moderation) or show it again; pushes the change."""
    if message.hidden == hidden:
        return message
    message.hidden = hidden
    message.save(update_fields=["hidden"])
    if hidden:
        events.publish(message.room, protocol.message_hidden_frame(message.seq))
    else:
        events.publish(message.room, message_restored_frame(message))
    return message


# --- purging ended rooms -------------------------------------------------------------------


def room_history_purge(
    *, room: Room, batch: int, on_batch: Callable[[int, int, int], None] | None = None
) -> PurgeCounts:
    """Delete a room's messages and members (the room row stays: a stale link still says
    "closed"). Messages go in seq ranges of `batch`, members in `batch`s, each in its own
    short transaction, so a room of a million messages never holds one long transaction
    or one huge lock while the site keeps serving."""
    counts = PurgeCounts()
    messages = Message.objects.filter(room=room)
    bounds = messages.aggregate(first=Min("seq"), last=Max("seq"))
    if bounds["first"] is not None:
        for low in range(bounds["first"], bounds["last"] + 1, batch):
            with transaction.atomic():
                deleted, _ = messages.filter(seq__gte=low, seq__lt=low + batch).delete()
            counts.messages += deleted
            counts.batches += 1
            if on_batch is not None:
                on_batch(low, low + batch - 1, deleted)
    members = Membership.objects.filter(room=room)
    while True:
        with transaction.atomic():
            ids = list(members.order_by("id").values_list("id", flat=True)[:batch])
            if not ids:
                break
            deleted, _ = Membership.objects.filter(id__in=ids).delete()
        counts.members += deleted
        counts.batches += 1
    return counts
