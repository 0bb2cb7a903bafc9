"""Every write to the message stream: chat messages, join/leave notices, moderation."""

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Min
from django.utils import timezone

from accounts import wechat
from accounts.models import User
from history import notices, selectors
from history.events import (
    message_frame,
    message_restored_frame,
    question_frame,
    sender_from_membership,
)
from history.models import (
    BODY_MAX,
    CLIENT_ID_MAX,
    MENTIONS_MAX,
    QUESTION_MAX,
    RECALL_SECONDS,
    Message,
    Question,
    QuestionVote,
)
from history.notices import notice_text
from history.selectors import PurgeCounts
from huiliao_site import metrics, sql
from huiliao_site.errors import Conflict, DomainError, InvalidInput, PermissionDenied
from huiliao_site.logs import FailureLog
from huiliao_site.text import is_valid_unicode
from rooms import events, protocol
from rooms import selectors as room_selectors
from rooms import services as room_services
from rooms.content import (
    REJECT,
    REVIEW,
    content_check_shown,
    content_rejected,
    content_verdict,
)
from rooms.models import Membership, ModerationAction, Report, Room

logger = logging.getLogger(__name__)
Action = ModerationAction.Action


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
    held: bool = False,
    reply_to: int | None = None,
    mentions: list[str] | None = None,
) -> Message:
    """Store a message under the room's next seq and publish it after commit. A `held`
    message takes its seq like any other and reaches the room as a placeholder."""
    # Chat messages need the room open at the very moment they get their seq.
    seq = room_services.room_next_seq(room=room, require_open=kind == Message.Kind.TEXT)
    # Every chat message runs this: written out (huiliao_site.sql), not built by the ORM.
    message = sql.insert(
        Message(
            room=room,
            seq=seq,
            sender=sender,
            kind=kind,
            body=body,
            client_id=client_id,
            created_at=timezone.now(),
            hidden=held,
            review=Message.Review.PENDING if held else Message.Review.NONE,
            reply_to=reply_to,
            mentions=mentions,
        )
    )
    if membership is not None:
        sender_from_membership(message, membership)
    events.publish(room, message_frame(message))
    transaction.on_commit(lambda: metrics.MESSAGES_STORED.labels(kind).inc())
    return message


# What message_post is told when WeChat's check has not run yet: it runs it itself.
UNCHECKED = "unchecked"


class CheckBreaker:
    """When WeChat's check keeps failing, stop asking for a while: during an outage every
    WeChat user's message would otherwise wait out the whole timeout first. After
    `FAILURES` failures in a row the check is skipped (HUILIAO_CONTENT_CHECK_FAILURE
    applies at once) for `OPEN_SECONDS`; then one message tries WeChat again."""

    FAILURES = 5
    OPEN_SECONDS = 30.0

    def __init__(self):
        self.lock = threading.Lock()
        self.failures = 0
        self.open_until = 0.0

    def allows(self) -> bool:
        with self.lock:
            if time.monotonic() < self.open_until:
                return False
            if self.failures >= self.FAILURES:
                self.open_until = 0.0
                self.failures = self.FAILURES - 1  # half open: one more failure re-opens
            return True

    def failed(self) -> None:
        with self.lock:
            self.failures += 1
            if self.failures >= self.FAILURES:
                self.open_until = time.monotonic() + self.OPEN_SECONDS

    def succeeded(self) -> None:
        with self.lock:
            self.failures, self.open_until = 0, 0.0


check_breaker = CheckBreaker()


def check_failure_verdict() -> str | None:
    """What a message gets when WeChat could not judge it (HUILIAO_CONTENT_CHECK_FAILURE)."""
    return REVIEW if settings.HUILIAO_CONTENT_CHECK_FAILURE == "review" else None


def wechat_screen(*, user: User, body) -> str | None:
    """WeChat's content check for a WeChat user's message: REJECT, REVIEW or None (pass;
    also for anyone who did not sign in with WeChat, at no cost). A failure or timeout
    follows HUILIAO_CONTENT_CHECK_FAILURE. Blocks for up to WECHAT_CHECK_TIMEOUT: the
    socket calls it in a pool of its own, outside the database's (history.consumers)."""
    if user.kind != User.Kind.WECHAT or not user.openid or not isinstance(body, str):
        return None
    text = body.strip()
    if not text or len(text) > BODY_MAX or not is_valid_unicode(text):
        return None  # message_post refuses it with the exact reason
    if not check_breaker.allows():
        return check_failure_verdict()
    try:
        suggest = wechat.msg_sec_check(openid=user.openid, content=text)
    except DomainError as exc:
        check_breaker.failed()
        check_failures.failed(exc, what="msg_sec_check")
        return check_failure_verdict()
    check_breaker.succeeded()
    check_failures.succeeded()
    return {wechat.CHECK_RISKY: REJECT, wechat.CHECK_REVIEW: REVIEW}.get(suggest)


def clean_reply_to(reply_to) -> int | None:
    if reply_to is None:
        return None
    if not isinstance(reply_to, int) or isinstance(reply_to, bool) or reply_to < 1:
        raise InvalidInput("reply_to must be a message's seq.", code="invalid_reply")
    return reply_to


def clean_mentions(mentions) -> list[str]:
    if mentions is None:
        return []
    if not isinstance(mentions, list) or len(mentions) > MENTIONS_MAX:
        raise InvalidInput(
            f"mentions must be a list of at most {MENTIONS_MAX} member ids.",
            code="invalid_mentions",
        )
    if not all(isinstance(item, str) and 0 < len(item) <= 32 for item in mentions):
        raise InvalidInput("mentions must be member ids.", code="invalid_mentions")
    return list(dict.fromkeys(mentions))


def message_post(
    *,
    room: Room,
    user: User,
    body,
    client_id,
    reply_to=None,
    mentions=None,
    wechat_verdict=UNCHECKED,
) -> tuple[Message, bool]:
    """Post a chat message as `user`. Returns (message, created).

    The same `client_id` from the same sender returns the stored message (created=False)
    and stores nothing, however many times and however concurrently it is re-sent. Checks
    the content (the room's rules, then WeChat's check for WeChat users: 400
    `content_rejected`, or stored held for review), open room, current membership, mute,
    broadcast mode, slow mode and the posting throttle — the same for REST and the socket.
    """
    body = clean_body(body)
    client_id = clean_client_id(client_id)
    reply_to = clean_reply_to(reply_to)
    mentions = clean_mentions(mentions)
    verdict = content_verdict(text=body, room=room)
    if verdict != REJECT:
        if wechat_verdict == UNCHECKED:
            wechat_verdict = wechat_screen(user=user, body=body)
        verdict = REJECT if REJECT in (verdict, wechat_verdict) else verdict or wechat_verdict
    try:
        if verdict == REJECT:
            raise content_rejected()
        started = time.perf_counter()
        message = _message_store_new(
            room=room,
            user=user,
            body=body,
            client_id=client_id,
            held=verdict == REVIEW,
            reply_to=reply_to,
            mentions=mentions,
        )
        metrics.MESSAGE_STORE_SECONDS.observe(time.perf_counter() - started)
        return message, True
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
def _message_store_new(
    *,
    room: Room,
    user: User,
    body: str,
    client_id: str,
    held: bool,
    reply_to: int | None = None,
    mentions: list[str] | None = None,
) -> Message:
    membership = room_selectors.membership_lock_for_posting(room=room, user=user)
    room_selectors.membership_check_can_post(room=room, membership=membership)
    selectors.throttle_check_slow_mode(room=room, membership=membership)
    selectors.throttle_check_post(room=room, user=user)
    if (
        reply_to is not None
        and not Message.objects.filter(room=room, seq=reply_to, kind=Message.Kind.TEXT).exists()
    ):
        raise InvalidInput("reply_to names no message of this room.", code="invalid_reply")
    if mentions:
        # Only people in the room: a mention of anyone else is dropped, not an error (they
        # may have left while the message was typed).
        mentions = list(
            Membership.objects.current()
            .filter(room=room, member_id__in=mentions)
            .values_list("member_id", flat=True)
        )
    return _store(
        reply_to=reply_to,
        mentions=mentions or None,
        room=room,
        sender=user,
        kind=Message.Kind.TEXT,
        body=body,
        client_id=client_id,
        membership=membership,
        held=held,
    )


def system_message_post(
    *, room: Room, event: str, params: dict, actor: User | None = None
) -> Message:
    """A notice from the room itself, stored as its event and parameters (history.notices
    words it for each reader; `body` keeps it in English). `actor`, the member whose act it
    reports, is stored as its sender (never shown: notices have no sender in any payload)
    so that their notices count against their posting budget like their messages do."""
    seq = room_services.room_next_seq(room=room)
    # A hall joining at once posts a notice per member: written out, as _store.
    message = sql.insert(
        Message(
            room=room,
            seq=seq,
            sender=actor,
            kind=Message.Kind.SYSTEM,
            body=notice_text(event, params, "en"),
            event=event,
            params=params,
            created_at=timezone.now(),
        )
    )
    events.publish(room, message_frame(message), notice={"event": event, "params": params})
    transaction.on_commit(lambda: metrics.MESSAGES_STORED.labels(Message.Kind.SYSTEM).inc())
    return message


def _notice_allowed(*, room: Room, membership: Membership) -> bool:
    """Whether a member's enter or leave may post its notice: never for a muted member
    (a mute would otherwise leave them a voice, the name in "X joined"), nor past their
    posting budget (enter/leave loops would flood the room)."""
    if membership.is_muted():
        return False
    return selectors.post_budget_left(room=room, user=membership.user_id) > 0


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
                room=room,
                event=notices.JOINED,
                params={"name": result.membership.display_name},
                actor=user,
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
        system_message_post(
            room=room,
            event=notices.LEFT,
            params={"name": membership.display_name},
            actor=user,
        )
    return membership


def _resolve_reports(*, message: Message, outcome: str) -> int:
    """Close the open reports on `message` with a moderator's decision; how many."""
    return Report.objects.filter(
        room_id=message.room_id, seq=message.seq, resolved_at__isnull=True
    ).update(resolved_at=timezone.now(), outcome=outcome)


@transaction.atomic
def message_hide(*, message: Message, actor: User | None) -> Message:
    """A moderator hides a message from everyone (rejecting it, if it was held) and
    settles its open reports. Pushes `message_hidden` when it was shown."""
    was_hidden = message.hidden
    message.hidden = True
    if message.review == Message.Review.PENDING:
        message.review = Message.Review.REJECTED
    message.save(update_fields=["hidden", "review"])
    reports = _resolve_reports(message=message, outcome=Report.Outcome.HIDDEN)
    room_services.moderation_record(
        room=message.room,
        actor=actor,
        action=Action.MESSAGE_HIDDEN,
        seq=message.seq,
        detail={"reports": reports} if reports else None,
    )
    if not was_hidden:
        events.publish(message.room, protocol.message_hidden_frame(message.seq))
    return message


@transaction.atomic
def message_unhide(*, message: Message, actor: User | None) -> Message:
    """A moderator keeps a message: shows it again (approving it, if it was held) and
    settles its open reports. Pushes `message_restored` when it was hidden."""
    was_hidden, was_held = message.hidden, message.review == Message.Review.PENDING
    message.hidden = False
    message.review = Message.Review.NONE
    message.save(update_fields=["hidden", "review"])
    reports = _resolve_reports(message=message, outcome=Report.Outcome.KEPT)
    if not (was_hidden or reports):
        return message
    detail = {"reports": reports} if reports else {}
    if was_held:
        detail["approved"] = True
    room_services.moderation_record(
        room=message.room,
        actor=actor,
        action=Action.MESSAGE_RESTORED,
        seq=message.seq,
        detail=detail,
    )
    if was_hidden:
        events.publish(message.room, message_restored_frame(message))
    return message


def message_set_hidden(*, message: Message, hidden: bool, actor: User | None) -> Message:
    if hidden:
        return message_hide(message=message, actor=actor)
    return message_unhide(message=message, actor=actor)


@transaction.atomic
def message_report(
    *, message: Message, reporter: Membership, reason: str, text: str = ""
) -> Report:
    """A member reports a message, once. At HUILIAO_REPORT_HIDE_THRESHOLD open reports from
    distinct members it is hidden pending a moderator's review (`message_hidden`)."""
    if message.kind != Message.Kind.TEXT:
        raise InvalidInput("Only members' messages can be reported.", code="cannot_report")
    if message.sender_id == reporter.user_id:
        raise InvalidInput("You can't report your own message.", code="cannot_report_own")
    if reason not in Report.Reason.values:
        raise InvalidInput("Pick a reason from the list.", code="invalid_reason")
    try:
        with transaction.atomic():
            report = Report.objects.create(
                room_id=message.room_id,
                seq=message.seq,
                reporter=reporter,
                reason=reason,
                text=text.strip(),
            )
    except IntegrityError as exc:
        raise Conflict("You have already reported this message.", code="already_reported") from exc
    locked = Message.objects.select_for_update().get(pk=message.pk)
    open_reports = Report.objects.filter(
        room_id=message.room_id, seq=message.seq, resolved_at__isnull=True
    ).count()
    if (
        not locked.hidden
        and open_reports >= settings.HUILIAO_REPORT_HIDE_THRESHOLD
        and not _sent_by_a_manager(message)
    ):
        Message.objects.filter(pk=message.pk).update(hidden=True, review=Message.Review.PENDING)
        message.hidden, message.review = True, Message.Review.PENDING
        room_services.moderation_record(
            room=message.room,
            actor=None,
            action=Action.MESSAGE_HIDDEN,
            seq=message.seq,
            detail={"reports": open_reports, "pending_review": True},
        )
        events.publish(message.room, protocol.message_hidden_frame(message.seq))
    return report


def _sent_by_a_manager(message: Message) -> bool:
    """The organiser's and moderators' messages are never hidden by reports alone: three
    throwaway guest accounts must not be able to silence the people running the room
    (their reports still reach the queue, for the owner to judge)."""
    return Membership.objects.filter(
        room_id=message.room_id,
        user_id=message.sender_id,
        role__in=[Membership.Role.OWNER, Membership.Role.MODERATOR],
    ).exists()


@transaction.atomic
def message_recall(*, message: Message, user: User) -> Message:
    """The sender takes their message back within RECALL_SECONDS (WeChat's 撤回): its seq
    stays, its body is shown to nobody, `message_recalled` tells the room. Twice is
    harmless."""
    if message.kind != Message.Kind.TEXT or message.sender_id != user.pk:
        raise PermissionDenied("Only its sender can recall a message.", code="not_sender")
    if message.recalled_at is not None:
        return message
    room_selectors.room_check_open(room=message.room)
    if timezone.now() - message.created_at > dt.timedelta(seconds=RECALL_SECONDS):
        raise PermissionDenied(
            f"A message can only be recalled within {RECALL_SECONDS // 60} minutes.",
            code="recall_expired",
        )
    message.recalled_at = timezone.now()
    message.save(update_fields=["recalled_at"])
    events.publish(message.room, protocol.message_recalled_frame(message.seq))
    return message


check_failures = FailureLog(logger, "WeChat content checks")


# --- Q&A -------------------------------------------------------------------------------------


def clean_question(body) -> str:
    if not isinstance(body, str) or not is_valid_unicode(body) or "\x00" in body:
        raise InvalidInput("body must be text.", code="invalid_question")
    body = body.strip()
    if not 1 <= len(body) <= QUESTION_MAX:
        raise InvalidInput(
            f"A question is 1 to {QUESTION_MAX} characters.", code="invalid_question"
        )
    return body


def _asker(*, room: Room, user: User) -> Membership:
    """The member asking or voting: current, not muted, in an open room. Broadcast and slow
    mode leave Q&A open: questions are how a broadcast room's audience speaks."""
    membership = room_selectors.membership_lock_for_posting(room=room, user=user)
    room_selectors.room_check_open(room=room)
    room_selectors.membership_check_current(membership=membership)
    if membership.is_muted():
        until = membership.muted_until.isoformat()
        raise PermissionDenied(f"You are muted until {until}.", code="muted")
    return membership


def question_ask(
    *, room: Room, user: User, body, client_id, anonymous: bool = False
) -> tuple[Question, bool]:
    """Ask a question (idempotent by `client_id`, like messages). Content rules apply;
    a question cannot wait for review, so any rule refuses it (400 `content_rejected`)."""
    body = clean_question(body)
    client_id = clean_client_id(client_id)
    try:
        with transaction.atomic():
            membership = _asker(room=room, user=user)
            content_check_shown(text=body, room=room)
            question = Question.objects.create(
                room=room, author=membership, body=body, client_id=client_id, anonymous=anonymous
            )
            events.publish(room, question_frame(question))
            return question, True
    except (IntegrityError, DomainError):
        existing = (
            Question.objects.select_related("author")
            .filter(room=room, author__user=user, client_id=client_id)
            .first()
        )
        if existing is None:
            raise
        return existing, False


@transaction.atomic
def question_vote(*, question: Question, user: User, up: bool) -> Question:
    """Vote for an open question, or take the vote back; once per member, harmless twice.
    Publishes the new count (the hub coalesces a hall's votes: rooms.protocol)."""
    room = question.room
    membership = _asker(room=room, user=user)
    if question.status != Question.Status.OPEN:
        raise Conflict("Only open questions take votes.", code="question_not_open")
    if up:
        # The member's row is locked (_asker) until commit: their votes take turns, so this
        # check cannot race their own other vote, and no savepoint is needed.
        voted = QuestionVote.objects.filter(question=question, member=membership).exists()
        if not voted:
            QuestionVote.objects.create(question=question, member=membership)
        changed = 0 if voted else 1
    else:
        deleted, _ = QuestionVote.objects.filter(question=question, member=membership).delete()
        changed = -deleted
    if changed:
        Question.objects.filter(pk=question.pk).update(votes=F("votes") + changed)
    question.votes = Question.objects.values_list("votes", flat=True).get(pk=question.pk)
    if changed:
        events.publish(
            room,
            protocol.question_votes_frame(question_id=question.public_id, votes=question.votes),
        )
    return question


QUESTION_ACTIONS = {
    Question.Status.ANSWERED: Action.QUESTION_ANSWERED,
    Question.Status.HIDDEN: Action.QUESTION_HIDDEN,
    Question.Status.OPEN: Action.QUESTION_REOPENED,
}


@transaction.atomic
def question_set_status(*, question: Question, status: str, actor: User | None) -> Question:
    """A manager marks a question answered, hides it, or opens it again."""
    if question.status == status:
        return question
    question.status = status
    question.answered_at = timezone.now() if status == Question.Status.ANSWERED else None
    question.save(update_fields=["status", "answered_at"])
    room_services.moderation_record(
        room=question.room,
        actor=actor,
        action=QUESTION_ACTIONS[status],
        question=question.public_id,
    )
    events.publish(question.room, question_frame(question))
    return question


@transaction.atomic
def message_promote(*, message: Message, actor: User | None) -> Question:
    """A moderator turns a member's chat message into a question, in its sender's name
    (once per message: promoting again returns the question)."""
    existing = Question.objects.filter(room_id=message.room_id, source_seq=message.seq).first()
    if existing is not None:
        return existing
    if message.kind != Message.Kind.TEXT or message.hidden or message.recalled_at is not None:
        raise InvalidInput(
            "Only a shown member's message can become a question.", code="cannot_promote"
        )
    if len(message.body) > QUESTION_MAX:
        raise InvalidInput(
            f"This message is longer than a question may be ({QUESTION_MAX} characters).",
            code="invalid_question",
        )
    author = Membership.objects.get(room_id=message.room_id, user_id=message.sender_id)
    question = Question.objects.create(
        room=message.room, author=author, body=message.body, source_seq=message.seq
    )
    room_services.moderation_record(
        room=message.room,
        actor=actor,
        action=Action.MESSAGE_PROMOTED,
        seq=message.seq,
        question=question.public_id,
    )
    events.publish(message.room, question_frame(question))
    return question


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
