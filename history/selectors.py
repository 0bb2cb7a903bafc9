import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Max, Min
from django.utils import timezone

from accounts.channels_auth import Credentials, user_for_credentials, user_lookup, user_verify
from accounts.models import User
from history.events import message_frame, with_sender_names
from history.models import Message
from huiliao_site.errors import NotAuthenticated, NotFound, Throttled
from rooms import selectors as room_selectors
from rooms.models import Membership, Room
from rooms.protocol import Frame
from rooms.selectors import CURRENT, CURRENT_MEMBER_COUNT

PAGE_DEFAULT = 50
PAGE_MAX = 100


def messages_page(
    *, room: Room, after: int | None = None, before: int | None = None, limit: int = PAGE_DEFAULT
) -> tuple[list[Message], bool]:
    """One page of history, ascending seq, as a keyset range on (room, seq) — never OFFSET.

    `after`: the first `limit` messages above it (catch-up). `before`: the last `limit`
    below it (scroll back). Neither: the newest `limit`. Returns (messages, has_more),
    where has_more says whether more exist beyond the page in the direction of travel.
    """
    rows = with_sender_names(Message.objects.filter(room=room))
    if after is not None:
        page = list(rows.filter(seq__gt=after).order_by("seq")[: limit + 1])
        return page[:limit], len(page) > limit
    if before is not None:
        rows = rows.filter(seq__lt=before)
    page = list(rows.order_by("-seq")[: limit + 1])
    has_more = len(page) > limit
    return page[:limit][::-1], has_more


def messages_after(*, room: Room, after: int, limit: int) -> list[Message]:
    return list(
        with_sender_names(Message.objects.filter(room=room, seq__gt=after)).order_by("seq")[:limit]
    )


def messages_range(*, room_id: int, first: int, last: int) -> list[Message]:
    """Messages with first <= seq <= last, ascending (the hub fills gaps with this)."""
    return list(
        with_sender_names(
            Message.objects.filter(room_id=room_id, seq__gte=first, seq__lte=last)
        ).order_by("seq")
    )


def message_get(*, room: Room, seq: int) -> Message:
    message = with_sender_names(Message.objects.filter(room=room, seq=seq)).first()
    if message is None:
        raise NotFound("No such message.", code="message_not_found")
    return message


def messages_info(*, room: Room) -> dict[str, int | None]:
    """count, first_seq and last_seq from the (room, seq) index alone. Seqs are gapless
    (allocated in the storing transaction), so the count is last - first + 1."""
    bounds = Message.objects.filter(room=room).aggregate(first=Min("seq"), last=Max("seq"))
    if bounds["first"] is None:
        return {"count": 0, "first_seq": None, "last_seq": None}
    return {
        "count": bounds["last"] - bounds["first"] + 1,
        "first_seq": bounds["first"],
        "last_seq": bounds["last"],
    }


def message_find_by_client_id(*, room: Room, sender, client_id: str) -> Message | None:
    return with_sender_names(
        Message.objects.filter(room=room, sender=sender, client_id=client_id)
    ).first()


def throttle_check_post(*, room: Room, user, now: dt.datetime | None = None) -> None:
    """At most HUILIAO_POST_RATE_COUNT messages per member per room in a sliding window of
    HUILIAO_POST_RATE_SECONDS, counted in the database so that every process and both
    transports (REST and socket) share one budget."""
    now = now or timezone.now()
    window = dt.timedelta(seconds=settings.HUILIAO_POST_RATE_SECONDS)
    recent = list(
        Message.objects.filter(room=room, sender=user, created_at__gt=now - window)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[: settings.HUILIAO_POST_RATE_COUNT]
    )
    if len(recent) >= settings.HUILIAO_POST_RATE_COUNT:
        wait = (recent[-1] + window - now).total_seconds()
        raise Throttled(
            f"Slow down: at most {settings.HUILIAO_POST_RATE_COUNT} messages every "
            f"{settings.HUILIAO_POST_RATE_SECONDS} s.",
            code="rate_limited",
            wait=int(wait) + 1,
        )


def room_live_state(*, code: str) -> dict[str, Any] | None:
    """What a room hub reads when it subscribes and re-reads every few seconds: the room's
    id, last seq, whether it is open, its expiry and its current member count."""
    row = (
        Room.objects.filter(code=code)
        .annotate(members=CURRENT_MEMBER_COUNT)
        .values("pk", "last_seq", "closed_at", "expires_at", "members")
        .first()
    )
    if row is None:
        return None
    row["room_id"] = row.pop("pk")
    expires_at = row["expires_at"]
    row["open"] = row["closed_at"] is None and (expires_at is None or expires_at > timezone.now())
    return row


def current_member_ids(*, room_id: int, user_ids: set[str]) -> set[str]:
    """Which of `user_ids` are still current members of the room (the hub's re-check)."""
    rows = Membership.objects.filter(CURRENT, room_id=room_id, user_id__in=user_ids)
    return {str(user_id) for user_id in rows.values_list("user_id", flat=True)}


@dataclass
class SocketOpen:
    """What a socket's handshake read: who, where, and what to replay."""

    user: User
    room: Room
    last_seq: int
    replay: list[Frame]
    replay_from: int | None  # set when the replay was truncated to its newest messages


def socket_open(*, code: str, credentials: Credentials, after: int | None) -> SocketOpen:
    """Credentials, membership and room state in one query (a session adds its own row),
    and the replay above `after` if asked: a hall joining at once costs one database trip
    per socket. Raises NotAuthenticated, NotFound, PermissionDenied or Gone."""
    lookup = user_lookup(credentials, prefix="user__")
    if lookup is None:
        raise NotAuthenticated("Log in first.", code="not_authenticated")
    membership = (
        Membership.objects.select_related("room", "user")
        .filter(lookup.condition, room__code=code)
        .first()
    )
    if membership is None or not user_verify(lookup, membership.user):
        _raise_why_not(code=code, credentials=credentials)
    room = membership.room
    room_selectors.membership_check_current(membership=membership)
    room_selectors.room_check_open(room=room)
    replay, replay_from = [], None
    if after is not None:
        replay, replay_from = messages_replay(room=room, after=after)
    return SocketOpen(membership.user, room, room.last_seq, replay, replay_from)


def _raise_why_not(*, code: str, credentials: Credentials) -> None:
    """The one query found nothing: tell the client why, with the ordinary checks."""
    user = user_for_credentials(credentials)
    if not user.is_authenticated:
        raise NotAuthenticated("Log in first.", code="not_authenticated")
    room_selectors.room_get_for_member(code=code, user=user)
    raise NotFound("No such room.", code="room_not_found")  # a race: it was just purged


def messages_replay(*, room: Room, after: int) -> tuple[list[Frame], int | None]:
    """Every message above `after`, or the newest HUILIAO_RESUME_LIMIT of them and the seq
    they start at (the client pages the rest over REST)."""
    limit = settings.HUILIAO_RESUME_LIMIT
    messages = messages_after(room=room, after=after, limit=limit + 1)
    replay_from = None
    if len(messages) > limit:
        messages, _more = messages_page(room=room, limit=limit)
        replay_from = messages[0].seq
    return [message_frame(message) for message in messages], replay_from
