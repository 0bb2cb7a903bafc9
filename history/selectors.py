import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db.models import F, Max, Min, Q
from django.utils import timezone

from accounts.channels_auth import (
    SESSION,
    TOKEN,
    Credentials,
    UserLookup,
    user_for_credentials,
    user_lookup,
    user_verify,
)
from accounts.models import User
from history.events import message_frame, with_sender_names
from history.models import Message, Question, QuestionVote
from huiliao_site import sql
from huiliao_site.api import decode_cursor, encode_cursor, keyset_page
from huiliao_site.errors import DomainError, InvalidInput, NotAuthenticated, NotFound, Throttled
from huiliao_site.lookups import WindowCounter
from rooms import selectors as room_selectors
from rooms.models import Membership, Report, Room, is_open
from rooms.protocol import Frame
from rooms.selectors import CURRENT_MEMBER_COUNT

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


SEARCH_MAX = 100


def messages_search(
    *, room: Room, query: str, before: int | None, limit: int
) -> tuple[list[Message], int | None]:
    """Members' messages containing `query` (case-insensitive), newest first, keyset-paged
    by seq: `before` for the next page. Hidden, held and recalled ones are never found. A
    plain substring filter on SQLite and PostgreSQL alike: full-text search would not find
    a word inside Chinese text, which has no spaces to split on."""
    rows = with_sender_names(
        Message.objects.filter(
            room=room,
            kind=Message.Kind.TEXT,
            hidden=False,
            recalled_at__isnull=True,
            body__icontains=query,
        )
    )
    if before is not None:
        rows = rows.filter(seq__lt=before)
    page = list(rows.order_by("-seq")[: limit + 1])
    if len(page) <= limit:
        return page, None
    return page[:limit], page[limit - 1].seq


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


@dataclass
class QueueItem:
    """A message awaiting a moderator: held for review, or reported (or both)."""

    message: Message
    count: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


QUEUE_PAGE = 50


def review_queue(*, room: Room, after: int = 0) -> tuple[list[QueueItem], int | None]:
    """Held or reported messages above seq `after`, oldest first, with their open reports
    summed up (never who reported), and the `after` of the next page or None. Two queries."""
    reported = Report.objects.filter(room=room, resolved_at__isnull=True)
    rows = with_sender_names(
        Message.objects.filter(room=room, seq__gt=after).filter(
            Q(review=Message.Review.PENDING) | Q(seq__in=reported.values("seq"))
        )
    ).order_by("seq")
    page = list(rows[: QUEUE_PAGE + 1])
    more = len(page) > QUEUE_PAGE
    items = {message.seq: QueueItem(message) for message in page[:QUEUE_PAGE]}
    if items:
        for seq, reason, text in reported.filter(seq__in=list(items)).values_list(
            "seq", "reason", "text"
        ):
            item = items[seq]
            item.count += 1
            item.reasons[reason] = item.reasons.get(reason, 0) + 1
            if text:
                item.notes.append(text)
    found = list(items.values())
    return found, found[-1].message.seq if more else None


QUESTION_SORTS = ("top", "new")


def question_get(*, room: Room, question_id: str) -> Question:
    question = (
        Question.objects.select_related("author", "room")
        .filter(room=room, public_id=question_id)
        .first()
    )
    if question is None:
        raise NotFound("No such question.", code="question_not_found")
    return question


def questions_page(
    *, room: Room, sort: str, status: str, cursor: str | None, limit: int
) -> tuple[list[Question], str | None]:
    """One page of a room's questions with `status`: `top` (most votes, then oldest) or
    `new` (newest first), keyset-paged by an opaque cursor. One query."""
    rows = Question.objects.select_related("author").filter(room=room, status=status)
    if sort == "new":
        return keyset_page(
            rows,
            time_field="created_at",
            key_field="public_id",
            descending=True,
            cursor=cursor,
            limit=limit,
        )
    rows = rows.order_by("-votes", "created_at", "public_id")
    if cursor:
        votes, moment, key = decode_top_cursor(cursor)
        rows = rows.filter(
            Q(votes__lt=votes)
            | Q(votes=votes, created_at__gt=moment)
            | Q(votes=votes, created_at=moment, public_id__gt=key)
        )
    page = list(rows[: limit + 1])
    if len(page) <= limit:
        return page, None
    last = page[limit - 1]
    return page[:limit], encode_top_cursor(last.votes, last.created_at, last.public_id)


def encode_top_cursor(votes: int, moment: dt.datetime, key: str) -> str:
    return encode_cursor(moment, f"{votes}:{key}")


def decode_top_cursor(cursor: str) -> tuple[int, dt.datetime, str]:
    moment, packed = decode_cursor(cursor)
    votes, _, key = packed.partition(":")
    if not votes.isdigit() or not key:
        raise InvalidInput("cursor is not one this API gave out.", code="invalid_cursor")
    return int(votes), moment, key


def my_votes(*, membership: Membership | None, questions: list[Question]) -> set[int]:
    """Which of `questions` the member voted for (one query; none for a non-member)."""
    if membership is None or not questions:
        return set()
    return set(
        QuestionVote.objects.filter(member=membership, question__in=questions).values_list(
            "question_id", flat=True
        )
    )


def message_find_by_client_id(*, room: Room, sender, client_id: str) -> Message | None:
    return with_sender_names(
        Message.objects.filter(room=room, sender=sender, client_id=client_id)
    ).first()


def too_fast(*, wait: int) -> Throttled:
    """The posting budget's one refusal (messages, notices and muted re-entries alike)."""
    return Throttled(
        f"Slow down: at most {settings.HUILIAO_POST_RATE_COUNT} messages every "
        f"{settings.HUILIAO_POST_RATE_SECONDS} s.",
        code="rate_limited",
        wait=wait,
    )


def _recent_posts(*, room: Room, user, now: dt.datetime) -> list[dt.datetime]:
    """When the member's latest posts in the window were made (newest first, at most a
    budget's worth): their messages and the join/leave notices they caused."""
    # Every post runs this: written out (huiliao_site.sql), not built by the ORM.
    since = now - dt.timedelta(seconds=settings.HUILIAO_POST_RATE_SECONDS)
    rows = Message.objects.raw(
        f"SELECT {sql.column_list(Message, ('id', 'created_at'))} FROM {sql.table(Message)} "  # noqa: S608 (names from _meta)
        "WHERE room_id = %s AND sender_id = %s AND created_at > %s "
        "ORDER BY created_at DESC LIMIT %s",
        [
            room.pk,
            sql.param(Message, "sender", user),
            sql.param(Message, "created_at", since),
            settings.HUILIAO_POST_RATE_COUNT,
        ],
    )
    return [row.created_at for row in rows]


def post_budget_left(*, room: Room, user) -> int:
    return settings.HUILIAO_POST_RATE_COUNT - len(
        _recent_posts(room=room, user=user, now=timezone.now())
    )


def throttle_check_post(*, room: Room, user, now: dt.datetime | None = None) -> None:
    """At most HUILIAO_POST_RATE_COUNT posts (messages, join and leave notices) per member
    per room in a sliding window of HUILIAO_POST_RATE_SECONDS, counted in the database so
    that every process and both transports (REST and socket) share one budget."""
    now = now or timezone.now()
    recent = _recent_posts(room=room, user=user, now=now)
    if len(recent) >= settings.HUILIAO_POST_RATE_COUNT:
        window = dt.timedelta(seconds=settings.HUILIAO_POST_RATE_SECONDS)
        wait = (recent[-1] + window - now).total_seconds()
        raise too_fast(wait=int(wait) + 1)


def throttle_check_slow_mode(*, room: Room, membership: Membership) -> None:
    """In slow mode a member posts once per `room.slow_mode_seconds` (429 `slow_mode`);
    the organiser and moderators are exempt (they answer, announce, moderate)."""
    if not room.slow_mode_seconds or membership.can_moderate:
        return
    now = timezone.now()
    last = (
        Message.objects.filter(
            room=room,
            sender_id=membership.user_id,
            kind=Message.Kind.TEXT,
            created_at__gt=now - dt.timedelta(seconds=room.slow_mode_seconds),
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if last is not None:
        wait = (last + dt.timedelta(seconds=room.slow_mode_seconds) - now).total_seconds()
        raise Throttled(
            f"Slow mode: one message every {room.slow_mode_seconds} s.",
            code="slow_mode",
            wait=int(wait) + (0 if wait == int(wait) else 1),
        )


# Re-entries of muted members, who post no notice the posting budget could count.
muted_rejoins = WindowCounter(
    "muted-rejoins",
    limit_setting="HUILIAO_POST_RATE_COUNT",
    window_setting="HUILIAO_POST_RATE_SECONDS",
)


def throttle_check_muted_rejoin(*, room: Room, user) -> None:
    key = f"{room.pk}:{user.pk}"
    wait = muted_rejoins.wait(key)
    if wait is not None:
        raise too_fast(wait=wait)
    muted_rejoins.add(key)


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
    row["open"] = is_open(closed_at=row["closed_at"], expires_at=row["expires_at"])
    return row


# Above this many users, the hub's re-check reads the room's whole member list rather than
# sending every id, when they are at least a quarter of the members: a statement with
# thousands of parameters costs the process more than reading a few times as many rows.
MEMBER_IDS_IN_LIST_MAX = 200


def current_member_ids(*, room_id: int, user_ids: set[str], members: int) -> set[str]:
    """Which of `user_ids` are still current members of the room (the hub's re-check);
    `members`: the room's member count as the hub last knew it."""
    rows = Membership.objects.current().filter(room_id=room_id)
    if len(user_ids) <= MEMBER_IDS_IN_LIST_MAX or 4 * len(user_ids) < members:
        rows = rows.filter(user_id__in=user_ids)
    current = {str(user_id) for user_id in rows.values_list("user_id", flat=True)}
    return current & user_ids


@dataclass
class SocketOpen:
    """What a socket's handshake read: who, where, and what to replay."""

    user: User
    room: Room
    last_seq: int
    replay: list[Frame]
    replay_from: int | None  # set when the replay was truncated to its newest messages
    member_id: str  # the socket's own member_id in the room (the hello frame tells it)
    replay_after: int = 0  # the replay holds the messages above this seq (replay_start)


def socket_open(
    *, code: str, credentials: Credentials, after: int | None, delivered: int = 0
) -> SocketOpen:
    """Credentials, membership and room state in one query (a session adds its own row),
    and the replay above `after` if asked (`delivered`: see replay_start): a hall joining
    at once costs one database trip per socket. Raises NotAuthenticated, NotFound,
    PermissionDenied or Gone."""
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
    replay, replay_from, replay_after = [], None, room.last_seq
    if after is not None:
        replay_after = replay_start(after=after, last_seq=room.last_seq, delivered=delivered)
        replay, replay_from = messages_replay(room=room, after=replay_after)
    return SocketOpen(
        membership.user,
        room,
        room.last_seq,
        replay,
        replay_from,
        membership.member_id,
        replay_after,
    )


def sockets_open(*, requests: list[tuple[str, Credentials]]) -> list[SocketOpen | DomainError]:
    """`socket_open` for many handshakes at once (a hall joining together), without replay:
    one query per room and credential kind instead of one per socket. A request the batch
    cannot answer goes through `socket_open`, which says exactly why."""
    results: list[SocketOpen | DomainError | None] = [None] * len(requests)
    by_room: dict[str, dict[str, list[tuple[int, str]]]] = defaultdict(lambda: defaultdict(list))
    for index, (code, credentials) in enumerate(requests):
        if "\x00" not in credentials.secret:
            by_room[code][credentials.method].append((index, credentials.secret))
    for code, kinds in by_room.items():
        rooms_members = Membership.objects.select_related("room", "user").filter(
            room__code=code, user__is_active=True
        )
        if tokens := kinds[TOKEN]:
            rows = rooms_members.filter(
                user__auth_token__key__in=[key for _, key in tokens]
            ).annotate(token_key=F("user__auth_token__key"))
            found = {membership.token_key: membership for membership in rows}
            for index, key in tokens:
                if key in found:
                    results[index] = _opened(found[key])
        if (sessions := kinds[SESSION]) and settings.SESSION_ENGINE == DB_SESSIONS:
            users = _session_users([key for _, key in sessions])
            rows = rooms_members.filter(user_id__in={user_id for user_id, _ in users.values()})
            found = {membership.user_id: membership for membership in rows}
            for index, key in sessions:
                user_id, session_hash = users.get(key, (None, None))
                membership = found.get(user_id)
                if membership is not None and user_verify(
                    UserLookup(Q(), session_hash), membership.user
                ):
                    results[index] = _opened(membership)
    for index, result in enumerate(results):
        if result is None:
            code, credentials = requests[index]
            try:
                results[index] = socket_open(code=code, credentials=credentials, after=None)
            except DomainError as exc:
                results[index] = exc
    return results


DB_SESSIONS = "django.contrib.sessions.backends.db"


def _opened(membership: Membership) -> SocketOpen | DomainError:
    try:
        room_selectors.membership_check_current(membership=membership)
        room_selectors.room_check_open(room=membership.room)
    except DomainError as exc:
        return exc
    room = membership.room
    return SocketOpen(
        membership.user, room, room.last_seq, [], None, membership.member_id, room.last_seq
    )


def _session_users(keys: list[str]) -> dict[str, tuple[Any, str]]:
    """session key → (user id, auth hash) for the live, logged-in sessions among `keys`."""
    found = {}
    store = SessionStore()
    rows = Session.objects.filter(session_key__in=keys, expire_date__gt=timezone.now())
    for key, data in rows.values_list("session_key", "session_data"):
        session = store.decode(data)
        if (
            session.get(SESSION_KEY) is not None
            and session.get(BACKEND_SESSION_KEY) in settings.AUTHENTICATION_BACKENDS
        ):
            try:
                user_id = User._meta.pk.to_python(session[SESSION_KEY])
            except ValidationError:
                continue
            found[key] = (user_id, session.get(HASH_SESSION_KEY) or "")
    return found


def _raise_why_not(*, code: str, credentials: Credentials) -> None:
    """The one query found nothing: tell the client why, with the ordinary checks."""
    user = user_for_credentials(credentials)
    if not user.is_authenticated:
        raise NotAuthenticated("Log in first.", code="not_authenticated")
    room_selectors.room_get_for_member(code=code, user=user)
    raise NotFound("No such room.", code="room_not_found")  # a race: it was just purged


def replay_start(*, after: int, last_seq: int, delivered: int) -> int:
    """The seq a resume replays from, for a client that says it has seen up to `after`.

    A client ahead of the room (its state from before a purge, say) has seen nothing the
    room can vouch for: it gets what came after `delivered`, the last seq the room hub had
    handed its sockets when the client asked. Not after `last_seq` as read now, which may
    already count messages committed while the request waited for this read: those the
    client has not seen, and the live stream drops them as replayed."""
    return after if after <= last_seq else min(delivered, last_seq)


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


def rooms_ended_before(cutoff: dt.datetime):
    """Rooms closed, or expired, before `cutoff` (an expired room is as read-only as a
    closed one, even if expire_rooms never ran), oldest id first."""
    return Room.objects.ended_before(cutoff).order_by("id")


@dataclass
class PurgeCounts:
    """What purging rooms' history removed (or would remove)."""

    rooms: int = 0
    messages: int = 0
    members: int = 0
    batches: int = 0

    def add(self, other: "PurgeCounts") -> None:
        self.rooms += 1
        self.messages += other.messages
        self.members += other.members
        self.batches += other.batches


def room_history_counts(*, room: Room) -> PurgeCounts:
    return PurgeCounts(
        messages=Message.objects.filter(room=room).count(),
        members=Membership.objects.filter(room=room).count(),
    )
