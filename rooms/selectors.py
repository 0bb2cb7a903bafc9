"""Reads, and the access checks that raise a domain error the API and consumer translate."""

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Abs

from accounts.models import User
from huiliao_site import sql
from huiliao_site.errors import Gone, NotFound, PermissionDenied, too_many_guesses
from huiliao_site.lookups import failed_lookup_record, failed_lookups_wait
from huiliao_site.text import name_key
from rooms import geo
from rooms.models import (
    CODE_ALPHABET,
    CODE_LENGTH,
    CURRENT_MEMBER,
    GEOFENCE_MAX_RADIUS_M,
    ROOM_CURRENT_MEMBERS,
    ContactRequest,
    Membership,
    Room,
)

CURRENT_MEMBER_COUNT = Count("memberships", filter=ROOM_CURRENT_MEMBERS)


def room_get(*, code: str) -> Room:
    code = code.upper()
    # A code from a URL can hold anything (PostgreSQL refuses a NUL in a query): what
    # cannot be a code names no room, without asking the database.
    if len(code) != CODE_LENGTH or any(char not in CODE_ALPHABET for char in code):
        raise NotFound("No such room.", code="room_not_found")
    room = Room.objects.filter(code=code).first()
    if room is None:
        raise NotFound("No such room.", code="room_not_found")
    return room


def room_get_guarded(*, code: str, address: str, user: User) -> Room:
    """room_get for a look-up that may be a guess (a page, the join form): each unknown
    code counts against the client's address (huiliao_site.lookups), and once it is over
    its budget every code is refused with 429 `too_many_guesses` — found or not, so the
    refusal says nothing — except to the room's own members and managers, so that the
    people already in a room behind one venue's address keep using it."""
    wait = failed_lookups_wait(address)
    try:
        room = room_get(code=code)
    except NotFound:
        if wait is not None:
            raise too_many_guesses(wait) from None
        failed_lookup_record(address)
        raise
    if wait is not None and not user_is_inside(room=room, user=user):
        raise too_many_guesses(wait)
    return room


def room_code_guard_check(*, code: str, address: str, user: User) -> None:
    """The same guard before a view runs (the API's throttle): refuses a stranger naming
    any code once the address is over its budget; free of queries under it."""
    wait = failed_lookups_wait(address)
    if wait is None:
        return
    room = Room.objects.filter(code=code.upper()).first() if len(code) == CODE_LENGTH else None
    if room is None or not user_is_inside(room=room, user=user):
        raise too_many_guesses(wait)


def user_is_inside(*, room: Room, user: User) -> bool:
    """A current member of the room, or one who manages it."""
    if user_can_manage_room(user=user, room=room):
        return True
    membership = membership_get(room=room, user=user)
    return membership is not None and membership.is_current


def room_check_open(*, room: Room) -> None:
    if room.closed_at is not None:
        raise Gone("This room has been closed.", code="room_closed")
    if room.is_expired():
        raise Gone("This room has expired.", code="room_closed")


def membership_get(*, room: Room, user: User) -> Membership | None:
    """The caller's membership of `room`, whatever its state (None for the anonymous).
    A post locks it instead: membership_lock_for_posting."""
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(room=room, user=user).first()


def membership_lock_for_posting(*, room: Room, user: User) -> Membership | None:
    """The poster's membership, locked until the transaction ends (one member's posts take
    turns, so each throttle count sees the others'), then the room's current open/expiry
    state and posting rules, copied onto `room`: a socket holds its Room from connect time,
    and the organiser may have closed it or moved its expiry since. Read after the lock,
    so a post that waited for it sees what was committed meanwhile.

    Every chat message runs this: written out (huiliao_site.sql), not built by the ORM."""
    membership = sql.first(
        Membership.objects.raw(
            f"SELECT {sql.column_list(Membership)} FROM {sql.table(Membership)} "  # noqa: S608 (names from _meta)
            f"WHERE room_id = %s AND user_id = %s{sql.for_update()}",
            [room.pk, sql.param(Membership, "user", user)],
        )
    )
    state = sql.first(
        Room.objects.raw(
            f"SELECT {sql.column_list(Room, ('id', *POSTING_STATE))} FROM {sql.table(Room)} "  # noqa: S608
            "WHERE id = %s",
            [room.pk],
        )
    )
    if state is None:
        raise Gone("This room has been closed.", code="room_closed")  # deleted meanwhile
    for field in POSTING_STATE:
        setattr(room, field, getattr(state, field))
    if membership is not None:
        membership.room = room
    return membership


POSTING_STATE = ("closed_at", "expires_at", "slow_mode_seconds", "posting")


def room_get_for_member(*, code: str, user: User) -> tuple[Room, Membership]:
    """The room and the caller's current membership; 404 unknown, 403 not a member/banned."""
    room = room_get(code=code)
    return room, membership_get_current(room=room, user=user)


def membership_get_current(*, room: Room, user: User) -> Membership:
    """The caller's current membership of `room`; 403 when banned or not a member."""
    membership = membership_get(room=room, user=user)
    membership_check_current(membership=membership)
    return membership


def membership_check_current(*, membership: Membership | None) -> None:
    """403 unless `membership` is a current one (entered, not left, not banned)."""
    if membership is not None and membership.banned:
        raise PermissionDenied("You have been removed from this room.", code="banned")
    if membership is None or membership.left_at is not None:
        raise PermissionDenied("Enter the room first.", code="not_member")


def user_can_manage_room(*, user: User, room: Room) -> bool:
    """Owner and superusers manage a room (close it, set its announcement, see it all)."""
    return user.is_authenticated and (room.owner_id == user.pk or user.is_superuser)


def membership_check_can_post(*, room: Room, membership: Membership | None) -> None:
    room_check_open(room=room)
    if membership is None or membership.left_at is not None:
        raise PermissionDenied("Enter the room first.", code="not_member")
    if membership.banned:
        raise PermissionDenied("You have been removed from this room.", code="banned")
    if membership.is_muted():
        until = membership.muted_until.isoformat()
        raise PermissionDenied(f"You are muted until {until}.", code="muted")
    if room.posting == Room.Posting.MODERATORS and not membership.can_moderate:
        raise PermissionDenied(
            "Only the organiser and moderators post in this room.", code="posting_restricted"
        )


def membership_check_can_moderate(*, room: Room, user: User, membership: Membership | None) -> None:
    """403 `not_moderator` unless `user` (whose membership is `membership`) moderates."""
    if not user_can_moderate_room(user=user, room=room, membership=membership):
        raise PermissionDenied("Only the owner or a moderator can do this.", code="not_moderator")


def membership_get_by_member_id(*, room: Room, member_id: str) -> Membership:
    """A member of `room` (current or not: a banned one is unbanned by this id) by the
    only name others know them by; 404 `member_not_found`."""
    membership = (
        Membership.objects.select_related("room").filter(room=room, member_id=member_id).first()
    )
    if membership is None:
        raise NotFound("No such member in this room.", code="member_not_found")
    return membership


def membership_check_can_act_on(*, room: Room, user: User, target: Membership) -> None:
    """A moderator acts on members; only the owner (or a superuser) on a moderator; nobody
    on the owner or on themselves."""
    if target.role == Membership.Role.OWNER:
        raise PermissionDenied("Nobody can do this to the room's owner.", code="target_is_owner")
    if target.user_id == user.pk:
        raise PermissionDenied("You can't do this to yourself.", code="target_is_self")
    if target.role == Membership.Role.MODERATOR and not user_can_manage_room(user=user, room=room):
        raise PermissionDenied(
            "Only the room's owner can do this to a moderator.", code="not_owner"
        )


def user_can_moderate_room(*, user: User, room: Room, membership: Membership | None) -> bool:
    """Managers (owner, superusers) and the room's current moderators; `membership` is
    the user's own (or None)."""
    if user_can_manage_room(user=user, room=room):
        return True
    return membership is not None and membership.is_current and membership.can_moderate


def display_name_in_use(*, room: Room, name: str, exclude: Membership | None) -> bool:
    """Whether a current member other than `exclude` goes by `name` (after name_key)."""
    rows = Membership.objects.current().filter(room=room, name_key=name_key(name))
    if exclude is not None and exclude.pk is not None:
        rows = rows.exclude(pk=exclude.pk)
    return rows.exists()


def member_count(*, room: Room) -> int:
    return Membership.objects.current().filter(room=room).count()


def members_current(*, room: Room) -> QuerySet[Membership]:
    return Membership.objects.current().filter(room=room).order_by("joined_at", "member_id")


OWNER_FIELDS = ("member_id", "display_name", "avatar")


def with_owner(rooms: QuerySet[Room]) -> QuerySet[Room]:
    """Annotate each room with its owner's room identity (`owner_member_id`, …): lists
    show the owner as the room knows them, never by account."""
    owner = Membership.objects.filter(room=OuterRef("pk"), role=Membership.Role.OWNER)
    return rooms.annotate(
        **{f"owner_{field}": Subquery(owner.values(field)[:1]) for field in OWNER_FIELDS}
    )


def room_owner(room: Room) -> dict:
    """The owner's room identity (rooms annotated by with_owner answer without a query)."""
    if not hasattr(room, "owner_member_id"):
        row = (
            Membership.objects.filter(room=room, role=Membership.Role.OWNER)
            .values(*OWNER_FIELDS)
            .first()
        )
        for field in OWNER_FIELDS:
            setattr(room, f"owner_{field}", row[field] if row else None)
    return {field: getattr(room, f"owner_{field}") for field in OWNER_FIELDS}


def rooms_for_user(*, user: User, role: str | None = None) -> QuerySet[Room]:
    """Rooms the user owns and/or is a current member of, each annotated with `my_role`
    (owner / moderator / member) and `member_count`, newest first, in one query."""
    mine = Membership.objects.filter(room=OuterRef("pk"), user=user)
    rooms = with_owner(Room.objects).annotate(
        my_role=Subquery(mine.filter(CURRENT_MEMBER).values("role")[:1]),
        member_count=CURRENT_MEMBER_COUNT,
    )
    if role == Membership.Role.OWNER:
        rooms = rooms.filter(owner=user)
    elif role == Membership.Role.MEMBER:
        rooms = rooms.filter(my_role__isnull=False).exclude(owner=user)
    else:
        rooms = rooms.filter(Q(owner=user) | Q(my_role__isnull=False))
    return rooms.order_by("-created_at", "-id")


def rooms_nearby(*, latitude: float, longitude: float, limit: int = 50) -> list[Room]:
    """Open geofenced rooms whose fence holds the point, nearest first.

    Each room's own bounding box (its radius around its venue) is tested in SQL, so only
    rooms that may hold the point leave the database, however many fenced rooms exist;
    the exact great-circle distance decides among those few.
    """
    lat_per_m, lon_per_m = geo.degrees_per_metre(latitude, GEOFENCE_MAX_RADIUS_M)
    candidates = (
        Room.objects.open()
        .filter(radius_m__isnull=False)
        .annotate(
            dlat=Abs(F("latitude") - latitude),
            dlon=Abs(F("longitude") - longitude),
        )
        .filter(dlat__lte=F("radius_m") * lat_per_m)
    )
    wraps = lon_per_m is None or abs(longitude) + GEOFENCE_MAX_RADIUS_M * lon_per_m > 180
    if not wraps:  # near a pole or across the antimeridian, any longitude may be in reach
        candidates = candidates.filter(dlon__lte=F("radius_m") * lon_per_m)
    candidates = (
        with_owner(candidates)
        .annotate(member_count=CURRENT_MEMBER_COUNT)
        .order_by(F("dlat") + F("dlon"))[: limit * 4]
    )
    found = []
    for room in candidates:
        distance = geo.distance_m(latitude, longitude, room.latitude, room.longitude)
        if distance <= room.radius_m:
            room.distance_m = distance
            found.append(room)
    found.sort(key=lambda room: room.distance_m)
    return found[:limit]


# --- contact exchange ----------------------------------------------------------------------


def contact_requests_mine(*, membership: Membership) -> list[ContactRequest]:
    """My requests, both ways, newest first; declined ones only as their asker sees them
    (pending: a decline is silent), never to their recipient."""
    rows = (
        ContactRequest.objects.select_related("asker", "recipient")
        .filter(Q(asker=membership) | Q(recipient=membership))
        .exclude(recipient=membership, status=ContactRequest.Status.DECLINED)
        .order_by("-created_at", "-id")
    )
    return list(rows[:200])


def contact_request_for_recipient(*, membership: Membership, request_id: str) -> ContactRequest:
    request = (
        ContactRequest.objects.select_related("asker", "recipient", "room")
        .filter(room_id=membership.room_id, public_id=request_id, recipient=membership)
        .exclude(status=ContactRequest.Status.DECLINED)
        .first()
    )
    if request is None:
        raise NotFound("No such request.", code="contact_not_found")
    return request
