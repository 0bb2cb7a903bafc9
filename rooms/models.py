import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from huiliao_site.text import name_key
from rooms.avatars import AVATAR_CHOICES, AVATAR_MAX_LENGTH, avatar_url

# No 0/O, 1/I/L: a code read off a projector or a printed poster must survive a human.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
GEOFENCE_MIN_RADIUS_M = 50
GEOFENCE_MAX_RADIUS_M = 50_000


MEMBER_ID_LENGTH = 12
DISPLAY_NAME_MAX = 32
ROOM_NAME_MAX = 64
ANNOUNCEMENT_MAX = 2000
MUTE_MAX_MINUTES = 60 * 24 * 30  # 43,200: a mute lasts at most 30 days
SLOW_MODE_MAX_SECONDS = 3600
REPORT_TEXT_MAX = 500
CONTENT_TERM_MAX = 100
CONTACT_CARD_MAX = 200


def generate_room_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def generate_member_id() -> str:
    """A person's public id inside one room: random, so ids in two rooms never link."""
    return secrets.token_urlsafe(9)  # 12 characters, 72 bits


def is_open(*, closed_at, expires_at, now=None) -> bool:
    """The open rule on one row's values (open_rooms() is the same rule in SQL)."""
    return closed_at is None and (expires_at is None or expires_at > (now or timezone.now()))


def open_rooms(now=None) -> Q:
    """A room is open while not closed and not past its expiry: the one definition (the
    model's is_open() is the same rule on one row)."""
    now = now or timezone.now()
    return Q(closed_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class RoomQuerySet(models.QuerySet):
    def open(self, now=None):
        return self.filter(open_rooms(now))

    def expired_unclosed(self, now=None):
        """Past their expiry but not closed yet: what expire_rooms closes."""
        return self.filter(closed_at__isnull=True, expires_at__lte=now or timezone.now())

    def closed(self):
        return self.filter(closed_at__isnull=False)

    def ended_before(self, cutoff):
        """Closed, or expired, before `cutoff` (an expired room is as ended as a closed one,
        even if expire_rooms never ran)."""
        return self.filter(
            Q(closed_at__lt=cutoff) | Q(closed_at__isnull=True, expires_at__lt=cutoff)
        )


class Posting(models.TextChoices):
    EVERYONE = "everyone", _("everyone")
    MODERATORS = "moderators", _("only the organiser and moderators (broadcast)")


class Room(models.Model):
    Posting = Posting

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        EXPIRED = "expired", _("expired")
        CLOSED = "closed", _("closed")

    code = models.CharField(_("code"), max_length=CODE_LENGTH, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=ROOM_NAME_MAX)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="owned_rooms",
        verbose_name=_("owner"),
    )
    announcement = models.TextField(_("announcement"), max_length=ANNOUNCEMENT_MAX, blank=True)
    announcement_updated_at = models.DateTimeField(_("announcement updated"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    latitude = models.FloatField(_("latitude"), null=True, blank=True)
    longitude = models.FloatField(_("longitude"), null=True, blank=True)
    radius_m = models.PositiveIntegerField(_("radius (m)"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    last_seq = models.PositiveBigIntegerField(_("messages"), default=0, editable=False)
    # 0: off. Otherwise a member (not a manager) posts at most once per this many seconds.
    # db_default too: a process of the previous release keeps creating rooms while these
    # columns are added.
    slow_mode_seconds = models.PositiveIntegerField(
        _("slow mode (seconds)"), default=0, db_default=0
    )
    posting = models.CharField(
        _("who may post"),
        max_length=10,
        choices=Posting.choices,
        default=Posting.EVERYONE,
        db_default=Posting.EVERYONE,
    )

    objects = RoomQuerySet.as_manager()

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(
                fields=["expires_at"], condition=Q(closed_at__isnull=True), name="room_open_expiry"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(latitude__isnull=True, longitude__isnull=True, radius_m__isnull=True)
                    | Q(latitude__isnull=False, longitude__isnull=False, radius_m__isnull=False)
                ),
                name="room_geofence_all_or_nothing",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def has_geofence(self) -> bool:
        return self.radius_m is not None

    def is_expired(self, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def is_open(self, now=None) -> bool:
        return is_open(closed_at=self.closed_at, expires_at=self.expires_at, now=now)

    @property
    def status(self) -> str:
        if self.closed_at is not None:
            return self.Status.CLOSED
        if self.is_expired():
            return self.Status.EXPIRED
        return self.Status.OPEN


# A current member: entered, not left, not banned. The one definition; selectors use it.
CURRENT_MEMBER = Q(left_at__isnull=True, banned=False)
# The same, seen from a Room (counting a room's current members in one query).
ROOM_CURRENT_MEMBERS = Q(memberships__left_at__isnull=True, memberships__banned=False)


class MembershipQuerySet(models.QuerySet):
    def current(self):
        return self.filter(CURRENT_MEMBER)


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("owner")
        MODERATOR = "moderator", _("moderator")
        MEMBER = "member", _("member")

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    # The only way anyone else names this person in this room (frames, pages, moderation).
    member_id = models.CharField(
        _("member id"), max_length=MEMBER_ID_LENGTH, default=generate_member_id, editable=False
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    display_name = models.CharField(_("display name"), max_length=DISPLAY_NAME_MAX)
    # huiliao_site.text.name_key(display_name): what uniqueness among current members is
    # checked on, so "Alice" and "ＡＬＩＣＥ" cannot both be in the room.
    name_key = models.CharField(max_length=DISPLAY_NAME_MAX * 4, editable=False, default="")
    # A preset key, never the account's avatar: others must not recognise the person.
    # rooms.services sets it (rooms.avatars.avatar_default unless the member picks one).
    avatar = models.CharField(_("avatar"), max_length=AVATAR_MAX_LENGTH, choices=AVATAR_CHOICES)
    joined_at = models.DateTimeField(_("joined at"), default=timezone.now)
    left_at = models.DateTimeField(_("left at"), null=True, blank=True)
    muted_until = models.DateTimeField(_("muted until"), null=True, blank=True)
    banned = models.BooleanField(_("banned"), default=False)
    # Private: shown to one other member only through an accepted contact exchange, never
    # in any list, frame, page, export, admin screen or log.
    contact_card = models.CharField(
        _("contact card"), max_length=CONTACT_CARD_MAX, blank=True, default="", db_default=""
    )

    objects = MembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["joined_at"]
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="membership_unique_room_user"),
            models.UniqueConstraint(
                fields=["room", "member_id"], name="membership_unique_room_member_id"
            ),
            models.UniqueConstraint(
                fields=["room", "name_key"],
                condition=CURRENT_MEMBER,
                name="membership_unique_current_name",
            ),
        ]
        indexes = [
            models.Index(fields=["room", "joined_at"]),
            models.Index(fields=["user", "-joined_at"]),
        ]

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args, update_fields=None, **kwargs):
        # The key always follows the name (bulk_create callers use `unsaved`).
        self.name_key = name_key(self.display_name)
        if update_fields is not None and "display_name" in update_fields:
            update_fields = {*update_fields, "name_key"}
        super().save(*args, update_fields=update_fields, **kwargs)

    @classmethod
    def unsaved(cls, **fields) -> "Membership":
        """A membership for bulk_create, which skips save(): its name_key is set here."""
        membership = cls(**fields)
        membership.name_key = name_key(membership.display_name)
        return membership

    @property
    def avatar_url(self) -> str:
        return avatar_url(self.avatar)

    @property
    def is_current(self) -> bool:
        # CURRENT_MEMBER on one row.
        return self.left_at is None and not self.banned

    def is_muted(self, now=None) -> bool:
        return self.muted_until is not None and self.muted_until > (now or timezone.now())

    @property
    def can_moderate(self) -> bool:
        return self.role in {self.Role.OWNER, self.Role.MODERATOR}


class ModerationAction(models.Model):
    """The audit log: one row per act of running a room, whoever did it and from where
    (the room page, the mini-program, the admin, a report threshold)."""

    class Action(models.TextChoices):
        ROOM_UPDATED = "room_updated", _("room updated")
        ANNOUNCEMENT_SET = "announcement_set", _("announcement set")
        ROOM_CLOSED = "room_closed", _("room closed")
        ROOM_REOPENED = "room_reopened", _("room reopened")
        ROOM_EXTENDED = "room_extended", _("room extended")
        MESSAGE_HIDDEN = "message_hidden", _("message hidden")
        MESSAGE_RESTORED = "message_restored", _("message restored")
        MEMBER_MUTED = "member_muted", _("member muted")
        MEMBER_UNMUTED = "member_unmuted", _("member unmuted")
        MEMBER_BANNED = "member_banned", _("member banned")
        MEMBER_UNBANNED = "member_unbanned", _("member unbanned")
        MEMBER_RENAMED = "member_renamed", _("member renamed")
        ROLE_SET = "role_set", _("role changed")
        QUESTION_ANSWERED = "question_answered", _("question answered")
        QUESTION_HIDDEN = "question_hidden", _("question hidden")
        QUESTION_REOPENED = "question_reopened", _("question reopened")
        MESSAGE_PROMOTED = "message_promoted", _("message made a question")

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="moderation_actions")
    # null: the room itself acted (a message hidden by its reporters), or the account is gone.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    target_member_id = models.CharField(_("member"), max_length=MEMBER_ID_LENGTH, blank=True)
    target_seq = models.PositiveBigIntegerField(_("message seq"), null=True, blank=True)
    target_question = models.CharField(_("question"), max_length=8, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("moderation action")
        verbose_name_plural = _("moderation log")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["room", "-created_at", "-id"], name="moderation_room_newest")
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.room_id})"


class Report(models.Model):
    """A member reports a message (named by its seq: rooms never point into history)."""

    class Reason(models.TextChoices):
        SPAM = "spam", _("spam")
        ABUSE = "abuse", _("abuse or harassment")
        ILLEGAL = "illegal", _("illegal content")
        PRIVACY = "privacy", _("someone's private information")
        OTHER = "other", _("something else")

    class Outcome(models.TextChoices):
        KEPT = "kept", _("kept")
        HIDDEN = "hidden", _("hidden")

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="reports")
    seq = models.PositiveBigIntegerField(_("message seq"))
    reporter = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="reports", verbose_name=_("reporter")
    )
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    text = models.TextField(_("note"), max_length=REPORT_TEXT_MAX, blank=True)
    created_at = models.DateTimeField(_("reported at"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, blank=True)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["room", "seq", "reporter"], name="report_once_per_member"
            ),
        ]
        indexes = [
            models.Index(
                fields=["room", "seq"],
                condition=Q(resolved_at__isnull=True),
                name="report_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.room_id}#{self.seq} ({self.reason})"


class ContentRule(models.Model):
    """A term that never reaches others as written: rejected, or held for a moderator.
    Global (room empty, set by staff) or one room's own (set by its organiser)."""

    class Action(models.TextChoices):
        REJECT = "reject", _("reject the text")
        REVIEW = "review", _("hold it for a moderator")

    term = models.CharField(_("term"), max_length=CONTENT_TERM_MAX)
    action = models.CharField(
        _("action"), max_length=10, choices=Action.choices, default=Action.REJECT
    )
    room = models.ForeignKey(
        Room,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="content_rules",
        verbose_name=_("room"),
        help_text=_("Empty: every room."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("content rule")
        verbose_name_plural = _("content rules")
        ordering = ["term"]

    def __str__(self) -> str:
        return self.term


def generate_contact_id() -> str:
    return secrets.token_urlsafe(6)  # 8 characters


class ContactRequest(models.Model):
    """One member asks another to swap contact cards; on acceptance each sees the other's."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        ACCEPTED = "accepted", _("accepted")
        DECLINED = "declined", _("declined")

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="contact_requests")
    public_id = models.CharField(max_length=8, default=generate_contact_id, editable=False)
    asker = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "public_id"], name="contact_unique_id"),
            # One request per direction, ever: a declined one still reads "pending" to its
            # asker (a decline is silent), so asking again must look the same.
            models.UniqueConstraint(fields=["asker", "recipient"], name="contact_once_per_pair"),
        ]
        indexes = [models.Index(fields=["room", "recipient", "status"], name="contact_inbox")]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.status})"
