"""Every write to rooms and memberships. Callers have already checked the caller's right
(selectors); these functions check the room's own rules (open, geofence, bans)."""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import User
from huiliao_site.errors import Conflict, Gone, InvalidInput, NotFound, PermissionDenied
from huiliao_site.text import has_control_characters, is_valid_unicode, name_key
from rooms import events, geo, protocol, selectors
from rooms.avatars import avatar_clean, avatar_default
from rooms.content import content_check_shown, content_key, content_rules_changed
from rooms.models import (
    ANNOUNCEMENT_MAX,
    CONTACT_CARD_MAX,
    CONTENT_TERM_MAX,
    DISPLAY_NAME_MAX,
    GEOFENCE_MAX_RADIUS_M,
    GEOFENCE_MIN_RADIUS_M,
    MUTE_MAX_MINUTES,
    ROOM_NAME_MAX,
    SLOW_MODE_MAX_SECONDS,
    ContactRequest,
    ContentRule,
    Membership,
    ModerationAction,
    Room,
    generate_room_code,
)

Action = ModerationAction.Action


def moderation_record(
    *,
    room: Room,
    actor: User | None,
    action: str,
    member: Membership | None = None,
    seq: int | None = None,
    question: str = "",
    detail: dict | None = None,
) -> ModerationAction:
    """One row of the room's audit log; every moderation service writes one, in its own
    transaction, so the log never shows an act that was rolled back."""
    return ModerationAction.objects.create(
        room=room,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target_member_id=member.member_id if member is not None else "",
        target_seq=seq,
        target_question=question,
        detail=detail or {},
    )


@dataclass(frozen=True)
class Geofence:
    latitude: float
    longitude: float
    radius_m: int


def validate_geofence(geofence: Geofence) -> None:
    if not -90 <= geofence.latitude <= 90:
        raise InvalidInput("latitude must be between -90 and 90.", code="invalid_geofence")
    if not -180 <= geofence.longitude <= 180:
        raise InvalidInput("longitude must be between -180 and 180.", code="invalid_geofence")
    if not GEOFENCE_MIN_RADIUS_M <= geofence.radius_m <= GEOFENCE_MAX_RADIUS_M:
        raise InvalidInput(
            f"radius_m must be between {GEOFENCE_MIN_RADIUS_M} and {GEOFENCE_MAX_RADIUS_M}.",
            code="invalid_geofence",
        )


def validate_expiry(expires_at: dt.datetime | None, *, now: dt.datetime | None = None) -> None:
    if expires_at is None:
        return
    now = now or timezone.now()
    if expires_at <= now:
        raise InvalidInput("expires_at must be in the future.", code="invalid_expiry")
    if expires_at > now + dt.timedelta(days=settings.HUILIAO_MAX_ROOM_DAYS):
        raise InvalidInput(
            f"expires_at must be at most {settings.HUILIAO_MAX_ROOM_DAYS} days away.",
            code="invalid_expiry",
        )


def expiry_for_new_room(*, owner: User, expires_at: dt.datetime | None) -> dt.datetime | None:
    """Staff may make rooms that never expire; anyone else's room without an expiry gets
    HUILIAO_DEFAULT_ROOM_HOURS (guest accounts are free: their rooms must not pile up)."""
    if expires_at is not None or owner.is_staff:
        return expires_at
    return timezone.now() + dt.timedelta(hours=settings.HUILIAO_DEFAULT_ROOM_HOURS)


def clean_room_name(name: str, *, room: Room | None = None) -> str:
    name = name.strip()
    if not 1 <= len(name) <= ROOM_NAME_MAX:
        raise InvalidInput(f"name must be 1 to {ROOM_NAME_MAX} characters.", code="invalid_name")
    # Printed on posters and shown in lists: one line, no terminal escapes.
    if has_control_characters(name):
        raise InvalidInput("name must not contain control characters.", code="invalid_name")
    content_check_shown(text=name, room=room)
    return name


def clean_display_name(value: str | None, *, fallback: str, room: Room | None = None) -> str:
    name = (value or "").strip() or fallback.strip()
    if not name:
        raise InvalidInput("display_name must not be blank.", code="invalid_display_name")
    if len(name) > DISPLAY_NAME_MAX:
        raise InvalidInput(
            f"display_name must be at most {DISPLAY_NAME_MAX} characters.",
            code="invalid_display_name",
        )
    # Shown inside "X joined" notices, like a nickname: no line breaks (a forged second
    # notice line) or terminal escapes.
    if has_control_characters(name):
        raise InvalidInput(
            "display_name must not contain control characters.", code="invalid_display_name"
        )
    if not name_key(name):
        raise InvalidInput("display_name must be visible.", code="invalid_display_name")
    content_check_shown(text=name, room=room)
    return name


def display_name_taken_error(name: str) -> Conflict:
    return Conflict(
        f"Someone in this room is already called {name!r}: choose another name.",
        code="display_name_taken",
    )


def display_name_check_free(*, room: Room, name: str, membership: Membership | None) -> None:
    """409 `display_name_taken` when another current member goes by `name` (compared by
    huiliao_site.text.name_key): nobody can pass for someone else, the organiser least."""
    if selectors.display_name_in_use(room=room, name=name, exclude=membership):
        raise display_name_taken_error(name)


def display_name_make_free(*, room: Room, name: str, membership: Membership | None) -> str:
    """`name`, or "name 2", "name 3"… when taken: for names nobody chose (a nickname used by
    default, an old name taken while its owner was away), which must not refuse entry."""
    candidate, number = name, 1
    while selectors.display_name_in_use(room=room, name=candidate, exclude=membership):
        number += 1
        suffix = f" {number}"
        candidate = name[: DISPLAY_NAME_MAX - len(suffix)].rstrip() + suffix
    return candidate


def _insert_with_fresh_code(**fields) -> Room:
    # 31^8 ≈ 8.5e11 codes: a collision is rare, but two creates must never share one.
    for _attempt in range(10):
        try:
            with transaction.atomic():
                return Room.objects.create(code=generate_room_code(), **fields)
        except IntegrityError:
            continue
    raise RuntimeError("could not find a free room code after 10 attempts")


@transaction.atomic
def room_create(
    *,
    owner: User,
    name: str,
    expires_at: dt.datetime | None = None,
    geofence: Geofence | None = None,
    announcement: str = "",
) -> Room:
    """Create a room; its owner becomes its first member (role owner)."""
    name = clean_room_name(name)
    validate_expiry(expires_at)
    if geofence is not None:
        validate_geofence(geofence)
    now = timezone.now()
    room = _insert_with_fresh_code(
        name=name,
        owner=owner,
        expires_at=expires_at,
        latitude=geofence.latitude if geofence else None,
        longitude=geofence.longitude if geofence else None,
        radius_m=geofence.radius_m if geofence else None,
        announcement=announcement,
        announcement_updated_at=now if announcement else None,
        created_at=now,
    )
    Membership.objects.create(
        room=room,
        user=owner,
        role=Membership.Role.OWNER,
        display_name=clean_display_name(
            None, fallback=owner.public_name[:DISPLAY_NAME_MAX], room=room
        ),
        avatar=avatar_default(room_code=room.code, user_id=owner.pk),
        joined_at=now,
    )
    return room


NOT_GIVEN = object()


@transaction.atomic
def room_update(
    *,
    room: Room,
    actor: User | None,
    name: str | None = None,
    expires_at=NOT_GIVEN,
    geofence=NOT_GIVEN,
    slow_mode_seconds: int | None = None,
    posting: str | None = None,
) -> Room:
    """Change a room's settings (each argument left out keeps its value; `expires_at` and
    `geofence` may be None, for staff: never expires, open to anyone). Pushes
    `room_updated` when something members see changed, and logs what changed."""
    changed: dict = {}
    if name is not None:
        name = clean_room_name(name, room=room)
        if name != room.name:
            changed["name"] = name
    if expires_at is not NOT_GIVEN:
        if expires_at is None and not (actor is not None and actor.is_staff):
            raise InvalidInput(
                "Only staff can make a room that never expires.", code="invalid_expiry"
            )
        validate_expiry(expires_at)
        if expires_at is not None:
            expires_at = expires_at.astimezone(dt.UTC)
        if expires_at != room.expires_at:
            changed["expires_at"] = expires_at
    if slow_mode_seconds is not None:
        if not 0 <= slow_mode_seconds <= SLOW_MODE_MAX_SECONDS:
            raise InvalidInput(
                f"slow_mode_seconds must be between 0 and {SLOW_MODE_MAX_SECONDS}.",
                code="invalid_slow_mode",
            )
        if slow_mode_seconds != room.slow_mode_seconds:
            changed["slow_mode_seconds"] = slow_mode_seconds
    if posting is not None:
        if posting not in Room.Posting.values:
            raise InvalidInput("posting must be everyone or moderators.", code="invalid_posting")
        if posting != room.posting:
            changed["posting"] = posting
    fence_changed = geofence is not NOT_GIVEN and _set_geofence(room, geofence)
    if not changed and not fence_changed:
        return room
    for field, value in changed.items():
        setattr(room, field, value)
    fields = [*changed, *(["latitude", "longitude", "radius_m"] if fence_changed else [])]
    room.save(update_fields=fields)
    detail = {
        field: protocol.iso_datetime(value) if field == "expires_at" else value
        for field, value in changed.items()
    }
    if fence_changed:
        detail["geofence"] = room.radius_m  # the radius only: the venue's point stays private
    moderation_record(room=room, actor=actor, action=Action.ROOM_UPDATED, detail=detail)
    if changed:
        events.publish(room, events.room_updated_frame(room))
    return room


def _set_geofence(room: Room, geofence: "Geofence | None") -> bool:
    if geofence is None:
        if not room.has_geofence:
            return False
        room.latitude = room.longitude = room.radius_m = None
        return True
    validate_geofence(geofence)
    room.latitude, room.longitude, room.radius_m = (
        geofence.latitude,
        geofence.longitude,
        geofence.radius_m,
    )
    return True


@transaction.atomic
def room_close(*, room: Room, actor: User | None) -> bool:
    """Close the room for good: nobody enters or posts; members keep reading its history.

    Pushes `room_closed` (then every socket is closed with 4410). Returns False when the
    room was already closed, so closing twice is harmless and pushes nothing.
    """
    now = timezone.now()
    updated = Room.objects.filter(pk=room.pk, closed_at__isnull=True).update(closed_at=now)
    if not updated:
        room.refresh_from_db(fields=["closed_at"])
        return False
    room.closed_at = now
    if actor is not None:  # None: expire_rooms, closing what ran out of time
        moderation_record(room=room, actor=actor, action=Action.ROOM_CLOSED)
    events.publish(room, protocol.room_closed_frame())
    return True


@transaction.atomic
def room_reopen(*, room: Room, actor: User | None) -> bool:
    """Undo a close while the room's time has not run out (409 `room_expired` after it:
    extend it first). Pushes nothing: the sockets were closed, clients reconnect. Returns
    False when the room was open already."""
    locked = Room.objects.select_for_update().get(pk=room.pk)
    if locked.closed_at is None:
        return False
    if locked.is_expired():
        raise Conflict(
            "This room's time has run out: extend its expiry first, then reopen it.",
            code="room_expired",
        )
    Room.objects.filter(pk=room.pk).update(closed_at=None)
    room.closed_at = None
    moderation_record(room=room, actor=actor, action=Action.ROOM_REOPENED)
    return True


@transaction.atomic
def room_extend(*, room: Room, by: dt.timedelta, actor: User | None) -> Room:
    """Push the expiry back (from now if it already passed). Closed rooms stay closed."""
    locked = Room.objects.select_for_update().get(pk=room.pk)
    base = (
        locked.expires_at
        if locked.expires_at and locked.expires_at > timezone.now()
        else timezone.now()
    )
    locked.expires_at = base + by
    locked.save(update_fields=["expires_at"])
    room.expires_at = locked.expires_at
    moderation_record(
        room=room,
        actor=actor,
        action=Action.ROOM_EXTENDED,
        detail={"expires_at": protocol.iso_datetime(room.expires_at)},
    )
    events.publish(room, events.room_updated_frame(locked))
    return room


def room_next_seq(*, room: Room, require_open: bool = False) -> int:
    """Allocate the room's next message seq. Must run inside the transaction that stores
    the message: the row stays locked until commit, so concurrent posters get 1, 2, 3…
    with no gap and no duplicate, and seq N+1 is only handed out once N is committed.

    With `require_open`, the same statement checks that the room is still open, so a close
    or an expiry that lands after the caller's own checks still refuses the message.
    """
    table = Room._meta.db_table  # our own constant, not input: no injection (S608)
    sql = f"UPDATE {table} SET last_seq = last_seq + 1 WHERE id = %s"  # noqa: S608
    params: list = [room.pk]
    if require_open:
        # rooms.models.open_rooms() in SQL: this statement must stay one UPDATE (the row
        # lock and the seq in one round trip), which the ORM cannot combine with RETURNING.
        sql += " AND closed_at IS NULL AND (expires_at IS NULL OR expires_at > %s)"
        params.append(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(sql + " RETURNING last_seq", params)
        row = cursor.fetchone()
    if row is None:
        raise Gone("This room is closed.", code="room_closed")
    (seq,) = row
    room.last_seq = seq
    return seq


@dataclass(frozen=True)
class EnterResult:
    membership: Membership
    joined: bool  # True when this call made them a current member (first time or again)
    renamed_from: str | None  # the previous display name when it changed


def geofence_check(
    *, room: Room, user: User, latitude: float | None, longitude: float | None
) -> None:
    if not room.has_geofence or room.owner_id == user.pk or user.is_superuser:
        return
    if latitude is None or longitude is None:
        raise InvalidInput(
            "This room is only open near its venue: send your latitude and longitude.",
            code="location_required",
        )
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise InvalidInput("latitude or longitude out of range.", code="invalid_location")
    distance = geo.distance_m(latitude, longitude, room.latitude, room.longitude)
    if distance > room.radius_m:
        raise PermissionDenied(
            f"You are {round(distance)} m from the venue; this room admits people within "
            f"{room.radius_m} m.",
            code="outside_geofence",
        )


@dataclass(frozen=True)
class Entry:
    """What a person sends when entering a room (the seed's enterChatRoom): each None keeps
    what they have (a newcomer gets their nickname and a drawn preset)."""

    display_name: str | None = None
    avatar: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@transaction.atomic
def membership_admit(*, room: Room, user: User, entry: Entry) -> EnterResult:
    """Make `user` a current member of an open room, or change their display name or
    preset avatar (None keeps the current one; a newcomer gets rooms.avatars.avatar_default).

    Entering again is harmless. Publishes the new member count when they joined; the
    caller (history.services.member_enter) posts the "joined" notice.
    """
    display_name, latitude, longitude = entry.display_name, entry.latitude, entry.longitude
    avatar = avatar_clean(entry.avatar)
    selectors.room_check_open(room=room)
    membership = Membership.objects.select_for_update().filter(room=room, user=user).first()
    if membership is not None and membership.banned:
        raise PermissionDenied("You have been removed from this room.", code="banned")
    if membership is None or membership.left_at is not None:
        geofence_check(room=room, user=user, latitude=latitude, longitude=longitude)
    now = timezone.now()
    if membership is None:
        membership, joined = _membership_create(
            room=room, user=user, display_name=display_name, avatar=avatar, now=now
        )
        renamed_from = None
        if not joined:  # the same user entered twice at once; the other request made it
            return EnterResult(membership, False, None)
    else:
        joined = membership.left_at is not None
        previous = membership.display_name
        name = _enter_name(room=room, membership=membership, display_name=display_name)
        membership.display_name = name
        renamed_from = previous if name != previous else None
        if avatar is not None:
            membership.avatar = avatar
        if joined:
            membership.left_at = None
            membership.joined_at = now
        _save_named(membership, ["display_name", "avatar", "left_at", "joined_at"])
    if joined:
        events.publish(room, protocol.members_frame(selectors.member_count(room=room)))
    return EnterResult(membership, joined, renamed_from)


def _enter_name(*, room: Room, membership: Membership, display_name: str | None) -> str:
    """The name an existing member enters with: a chosen one must be free (409); keeping
    their old one after being away gets a number if someone took it meanwhile."""
    if display_name is not None and display_name.strip():
        name = clean_display_name(display_name, fallback="", room=room)
        if name_key(name) != membership.name_key or membership.left_at is not None:
            display_name_check_free(room=room, name=name, membership=membership)
        return name
    if membership.left_at is None:
        return membership.display_name
    return display_name_make_free(room=room, name=membership.display_name, membership=membership)


def _membership_create(
    *, room: Room, user: User, display_name: str | None, avatar: str | None, now
) -> tuple[Membership, bool]:
    """A newcomer's membership; (membership, False) when a concurrent enter made it."""
    if display_name is not None and display_name.strip():
        name = clean_display_name(display_name, fallback="", room=room)
        display_name_check_free(room=room, name=name, membership=None)
    else:
        fallback = clean_display_name(None, fallback=user.public_name[:DISPLAY_NAME_MAX], room=room)
        name = display_name_make_free(room=room, name=fallback, membership=None)
    membership = Membership(
        room=room,
        user=user,
        display_name=name,
        avatar=avatar or avatar_default(room_code=room.code, user_id=user.pk),
        joined_at=now,
    )
    try:
        _save_named(membership, None)
    except Conflict:
        existing = Membership.objects.filter(room=room, user=user).first()
        if existing is None:
            raise
        return existing, False
    return membership, True


def _save_named(membership: Membership, fields: list[str] | None) -> None:
    """Save, turning a lost race for a name (two people taking "Alice" at once, caught by
    the database's unique index on current names) into 409 `display_name_taken`."""
    try:
        with transaction.atomic():
            if fields is None:
                membership.save(force_insert=True)
            else:
                membership.save(update_fields=fields)
    except IntegrityError as exc:
        raise display_name_taken_error(membership.display_name) from exc


@transaction.atomic
def membership_leave(*, room: Room, user: User) -> Membership | None:
    """End `user`'s membership; returns it, or None if they were not a current member.
    Their sockets in the room are closed and the member count pushed."""
    membership = (
        Membership.objects.select_for_update()
        .filter(room=room, user=user, left_at__isnull=True)
        .first()
    )
    if membership is None:
        return None
    membership.left_at = timezone.now()
    membership.save(update_fields=["left_at"])
    events.publish_close_member(room, user.pk)
    events.publish(room, protocol.members_frame(selectors.member_count(room=room)))
    return membership


@transaction.atomic
def membership_set_banned(
    *, membership: Membership, banned: bool, actor: User | None
) -> Membership:
    """Ban (their sockets close at once, they cannot re-enter) or lift a ban."""
    if membership.banned == banned:
        return membership
    if banned and membership.role == Membership.Role.OWNER:
        raise InvalidInput("The owner cannot be banned.", code="cannot_ban_owner")
    membership.banned = banned
    membership.save(update_fields=["banned"])
    room = membership.room
    moderation_record(
        room=room,
        actor=actor,
        action=Action.MEMBER_BANNED if banned else Action.MEMBER_UNBANNED,
        member=membership,
    )
    events.publish(room, events.member_updated_frame(membership))
    if banned:
        events.publish_close_member(room, membership.user_id)
    events.publish(room, protocol.members_frame(selectors.member_count(room=room)))
    return membership


@transaction.atomic
def membership_mute(*, membership: Membership, minutes: int, actor: User | None) -> Membership:
    """Mute for `minutes` (0 lifts the mute). A muted member reads but cannot post."""
    if not 0 <= minutes <= MUTE_MAX_MINUTES:
        raise InvalidInput(
            f"minutes must be between 0 and {MUTE_MAX_MINUTES}.", code="invalid_minutes"
        )
    if minutes and membership.role == Membership.Role.OWNER:
        raise InvalidInput("The owner cannot be muted.", code="cannot_mute_owner")
    was_muted = membership.is_muted()
    membership.muted_until = timezone.now() + dt.timedelta(minutes=minutes) if minutes else None
    membership.save(update_fields=["muted_until"])
    if minutes or was_muted:
        moderation_record(
            room=membership.room,
            actor=actor,
            action=Action.MEMBER_MUTED if minutes else Action.MEMBER_UNMUTED,
            member=membership,
            detail={"minutes": minutes} if minutes else None,
        )
        events.publish(membership.room, events.member_updated_frame(membership))
    return membership


@transaction.atomic
def membership_rename(
    *, membership: Membership, display_name: str, actor: User | None
) -> Membership:
    """Change a member's display name for them (an organiser replacing an offensive one);
    same rules as a member renaming themselves by entering again."""
    name = clean_display_name(display_name, fallback="", room=membership.room)
    if membership.is_current:
        display_name_check_free(room=membership.room, name=name, membership=membership)
    previous = membership.display_name
    membership.display_name = name
    _save_named(membership, ["display_name"])
    if name != previous:
        moderation_record(
            room=membership.room,
            actor=actor,
            action=Action.MEMBER_RENAMED,
            member=membership,
            detail={"display_name": name},
        )
    return membership


@transaction.atomic
def membership_set_role(*, membership: Membership, role: str, actor: User | None) -> Membership:
    if role not in {Membership.Role.MODERATOR, Membership.Role.MEMBER}:
        raise InvalidInput("role must be moderator or member.", code="invalid_role")
    if membership.role == Membership.Role.OWNER:
        raise InvalidInput("The owner's role cannot change.", code="cannot_change_owner")
    if membership.role == role:
        return membership
    membership.role = role
    membership.save(update_fields=["role"])
    moderation_record(
        room=membership.room,
        actor=actor,
        action=Action.ROLE_SET,
        member=membership,
        detail={"role": role},
    )
    events.publish(membership.room, events.member_updated_frame(membership))
    return membership


@transaction.atomic
def announcement_set(*, room: Room, text: str, actor: User | None) -> Room:
    """Set the room's announcement (the seed's BBS) and push it to everyone in the room."""
    text = text.strip()
    if len(text) > ANNOUNCEMENT_MAX:
        raise InvalidInput(
            f"announcement must be at most {ANNOUNCEMENT_MAX} characters.",
            code="invalid_announcement",
        )
    if text:
        content_check_shown(text=text, room=room)
    room.announcement = text
    room.announcement_updated_at = timezone.now()
    room.save(update_fields=["announcement", "announcement_updated_at"])
    moderation_record(
        room=room, actor=actor, action=Action.ANNOUNCEMENT_SET, detail={"length": len(text)}
    )
    events.publish(room, events.announcement_frame(room))
    return room


# --- contact exchange ------------------------------------------------------------------------


def clean_contact_card(card) -> str:
    if not isinstance(card, str) or not is_valid_unicode(card) or "\x00" in card:
        raise InvalidInput("contact_card must be text.", code="invalid_contact_card")
    card = card.strip()
    if len(card) > CONTACT_CARD_MAX:
        raise InvalidInput(
            f"A contact card is at most {CONTACT_CARD_MAX} characters.", code="invalid_contact_card"
        )
    if has_control_characters(card, allow_newlines=True):
        raise InvalidInput(
            "contact_card must not contain control characters.", code="invalid_contact_card"
        )
    return card


@transaction.atomic
def contact_card_set(*, membership: Membership, card) -> Membership:
    """A member's private card for this room ("WeChat: …", an email). Nobody sees it but
    those they accept an exchange with; no content rule reads it for the same reason."""
    membership.contact_card = clean_contact_card(card)
    membership.save(update_fields=["contact_card"])
    return membership


def _require_card(membership: Membership) -> None:
    if not membership.contact_card:
        raise InvalidInput(
            "Add your own contact card first: an exchange shares both.",
            code="contact_card_required",
        )


def _shared(request: ContactRequest) -> None:
    """Each side gets the other's card, on their own sockets only."""
    for me, other in ((request.asker, request.recipient), (request.recipient, request.asker)):
        events.publish_to_user(
            request.room,
            me.user_id,
            protocol.contact_shared_frame(
                request_id=request.public_id,
                member_id=other.member_id,
                display_name=other.display_name,
                card=other.contact_card,
            ),
        )


@transaction.atomic
def contact_ask(*, room: Room, asker: Membership, recipient: Membership) -> ContactRequest:
    """Ask `recipient` to swap cards. Their sockets alone hear `contact_request`. Asking
    someone who already asked me accepts theirs instead (both want it)."""
    if recipient.pk == asker.pk:
        raise InvalidInput("You can't ask yourself.", code="cannot_ask_self")
    if asker.is_muted():
        raise PermissionDenied("You are muted in this room for now.", code="muted")
    _require_card(asker)
    reverse = (
        ContactRequest.objects.select_for_update()
        .filter(asker=recipient, recipient=asker, status=ContactRequest.Status.PENDING)
        .first()
    )
    if reverse is not None:
        return contact_accept(request=reverse)
    try:
        with transaction.atomic():
            request = ContactRequest.objects.create(room=room, asker=asker, recipient=recipient)
    except IntegrityError as exc:
        raise Conflict(
            "You have already asked this member for their contact.", code="already_asked"
        ) from exc
    events.publish_to_user(
        room,
        recipient.user_id,
        protocol.contact_request_frame(
            request_id=request.public_id,
            member_id=asker.member_id,
            display_name=asker.display_name,
        ),
    )
    return request


@transaction.atomic
def contact_accept(*, request: ContactRequest) -> ContactRequest:
    if request.status == ContactRequest.Status.ACCEPTED:
        return request
    if request.status != ContactRequest.Status.PENDING:
        raise NotFound("No such request.", code="contact_not_found")
    request.recipient.refresh_from_db(fields=["contact_card"])
    request.asker.refresh_from_db(fields=["contact_card"])
    _require_card(request.recipient)
    request.status = ContactRequest.Status.ACCEPTED
    request.answered_at = timezone.now()
    request.save(update_fields=["status", "answered_at"])
    _shared(request)
    return request


@transaction.atomic
def contact_decline(*, request: ContactRequest) -> None:
    """Silent: the asker keeps seeing "pending"."""
    if request.status == ContactRequest.Status.PENDING:
        request.status = ContactRequest.Status.DECLINED
        request.answered_at = timezone.now()
        request.save(update_fields=["status", "answered_at"])


# --- content rules ---------------------------------------------------------------------------


def clean_content_term(term: str) -> str:
    term = term.strip()
    if not content_key(term):
        raise InvalidInput(
            "A term needs at least one letter or digit (spaces and punctuation are ignored).",
            code="invalid_term",
        )
    if len(term) > CONTENT_TERM_MAX:
        raise InvalidInput(f"A term is at most {CONTENT_TERM_MAX} characters.", code="invalid_term")
    return term


@transaction.atomic
def content_rule_save(*, rule: ContentRule) -> ContentRule:
    """Create or change a rule; every process's matcher follows (rooms.content)."""
    rule.term = clean_content_term(rule.term)
    rule.save()
    _rules_changed()
    return rule


@transaction.atomic
def content_rules_delete(*, rules) -> int:
    deleted, _ = ContentRule.objects.filter(pk__in=[rule.pk for rule in rules]).delete()
    _rules_changed()
    return deleted


def _rules_changed() -> None:
    # Now, for this transaction's own later checks; and again after commit, so that no
    # process compiles the rows as they were before it and keeps that.
    content_rules_changed()
    transaction.on_commit(content_rules_changed)
