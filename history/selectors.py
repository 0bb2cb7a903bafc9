import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import Max, Min
from django.utils import timezone

from history.events import with_sender_names
from history.models import Message
from huiliao_site.errors import NotFound, Throttled
from rooms.models import Room

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


def room_live_state(*, room_id: int) -> dict[str, Any] | None:
    """What the room hub re-reads every few seconds: last seq, open or not, expiry."""
    row = Room.objects.filter(pk=room_id).values("last_seq", "closed_at", "expires_at").first()
    if row is None:
        return None
    expires_at = row["expires_at"]
    row["open"] = row["closed_at"] is None and (expires_at is None or expires_at > timezone.now())
    return row
