import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from rooms.models import Membership, Room

BODY_MAX = 2000
CLIENT_ID_MAX = 64
MENTIONS_MAX = 20
RECALL_SECONDS = 120  # a sender takes a message back within 2 minutes (WeChat's 撤回)


class Message(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", _("text")
        SYSTEM = "system", _("system")

    class Review(models.TextChoices):
        NONE = "none", _("none")
        PENDING = "pending", _("pending review")
        REJECTED = "rejected", _("rejected")

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveBigIntegerField(_("seq"))
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.TEXT)
    body = models.TextField(_("body"), max_length=BODY_MAX)
    # A system notice's event ("joined", "left") and its parameters: its words are chosen
    # per reader (history.notices); `body` keeps them in English for search and the admin.
    event = models.CharField(_("event"), max_length=16, blank=True, default="", db_default="")
    params = models.JSONField(_("parameters"), null=True, blank=True)
    # The message this one answers (its seq in the same room), shown as a quote.
    reply_to = models.PositiveBigIntegerField(_("reply to"), null=True, blank=True)
    # The member_ids it @mentions: their pages highlight it.
    mentions = models.JSONField(_("mentions"), null=True, blank=True)
    client_id = models.CharField(_("client id"), max_length=CLIENT_ID_MAX, null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=False)
    hidden = models.BooleanField(_("hidden"), default=False)
    # Held content: pending until a moderator keeps it (none) or hides it (rejected).
    # db_default too: a process still running the previous release keeps inserting
    # messages while this column is added.
    review = models.CharField(
        _("review"),
        max_length=8,
        choices=Review.choices,
        default=Review.NONE,
        db_default=Review.NONE,
    )
    # Taken back by its sender: shown to nobody (the admin still shows it).
    recalled_at = models.DateTimeField(_("recalled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["room", "seq"]
        constraints = [
            # Also the keyset index every page of history walks.
            models.UniqueConstraint(fields=["room", "seq"], name="message_unique_room_seq"),
            models.UniqueConstraint(
                fields=["room", "sender", "client_id"], name="message_unique_client_id"
            ),
        ]
        indexes = [
            # The posting throttle counts a member's recent messages in a room.
            models.Index(fields=["room", "sender", "created_at"], name="message_sender_recent"),
            # The moderators' queue: held messages of a room.
            models.Index(
                fields=["room", "seq"],
                condition=models.Q(review="pending"),
                name="message_held",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.room_id}#{self.seq}"


QUESTION_MAX = 300
QUESTION_ID_LENGTH = 8


def generate_question_id() -> str:
    """A question's public id: random, so it says nothing about how many questions exist."""
    return secrets.token_urlsafe(6)  # 8 characters


class Question(models.Model):
    """A question for the speaker (Slido-style): voted up by members, answered or hidden
    by the room's managers."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        ANSWERED = "answered", _("answered")
        HIDDEN = "hidden", _("hidden")

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="questions")
    public_id = models.CharField(
        _("id"), max_length=QUESTION_ID_LENGTH, default=generate_question_id, editable=False
    )
    author = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="questions", verbose_name=_("author")
    )
    body = models.TextField(_("question"), max_length=QUESTION_MAX)
    client_id = models.CharField(_("client id"), max_length=CLIENT_ID_MAX, null=True, blank=True)
    # Shown as "Anonymous" to everyone but the room's managers.
    anonymous = models.BooleanField(_("anonymous"), default=False)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    # Kept beside the votes themselves: the "top" order reads it from an index.
    votes = models.PositiveIntegerField(_("votes"), default=0)
    # The chat message a moderator promoted into this question, if any.
    source_seq = models.PositiveBigIntegerField(_("from message"), null=True, blank=True)
    created_at = models.DateTimeField(_("asked at"), default=timezone.now)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["-votes", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["room", "public_id"], name="question_unique_id"),
            models.UniqueConstraint(
                fields=["room", "author", "client_id"], name="question_unique_client_id"
            ),
            models.UniqueConstraint(
                fields=["room", "source_seq"],
                condition=models.Q(source_seq__isnull=False),
                name="question_promoted_once",
            ),
        ]
        indexes = [
            models.Index(fields=["room", "status", "-votes", "created_at"], name="question_top"),
            models.Index(fields=["room", "status", "-created_at"], name="question_new"),
        ]

    def __str__(self) -> str:
        return self.body[:60]


class QuestionVote(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="vote_rows")
    member = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["question", "member"], name="question_vote_once"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} → {self.question_id}"
