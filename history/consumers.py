"""`/ws/rooms/{code}/`: a room's live stream (docs/live.md, "The protocol").

A thin shell: the handshake's checks come from one selector (`socket_open`), posting from
`message_post` (the same validation, throttle, mute/ban checks and client_id idempotency as
REST), and live frames from the process's room hub (history.live), which writes them to
this socket directly. Every frame this consumer sends goes through the hub's socket too,
so hello, replay, replies and live frames leave in one order.
"""

import asyncio
import concurrent.futures
import functools
import json
import logging
import time
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django import db
from django.conf import settings
from django.utils import translation

from history import selectors, services
from history.events import Viewer, message_frame
from history.live.db import in_db_thread
from history.live.feed import RoomFeed
from history.live.registry import get_hub
from history.live.socket import LocalSocket
from history.models import Message
from history.notices import socket_language
from huiliao_site import metrics
from huiliao_site.errors import (
    DomainError,
    Gone,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    database_failures,
    database_unavailable,
)
from huiliao_site.lookups import failed_lookup_record, failed_lookups_wait, socket_address
from rooms import protocol
from rooms.models import CODE_ALPHABET, CODE_LENGTH, Room

logger = logging.getLogger(__name__)

INVALID_AFTER_SEQ = "after_seq must be a whole number ≥ 0."
# A resume re-reads up to HUILIAO_RESUME_LIMIT rows and sends as many frames: a client
# that really lost its place resumes once; a loop of them is refused.
RESUME_BUDGET = 5
RESUME_WINDOW_SECONDS = 10.0
RESUME_REFUSED = (
    "rate_limited",
    f"Slow down: at most {RESUME_BUDGET} resumes every {RESUME_WINDOW_SECONDS:g} s.",
)
CHECK_WORKERS = 16
CHECK_GRACE_SECONDS = 0.5
SERVER_ERROR = ("server_error", "Something went wrong with that frame; nothing was stored.")


def _post(
    *, room: Room, user, content: dict[str, Any], wechat_verdict: str | None
) -> tuple[protocol.Frame, bool, bool]:
    """(the message as its sender sees it, whether it was stored now, whether it is held)."""
    message, created = services.message_post(
        room=room,
        user=user,
        body=content.get("body"),
        client_id=content.get("client_id"),
        reply_to=content.get("reply_to"),
        mentions=content.get("mentions"),
        wechat_verdict=wechat_verdict,
    )
    viewer = Viewer(member_id=getattr(message, "sender_member_id", None))
    return message_frame(message, viewer), created, message.review != Message.Review.NONE


def _replay(
    *, room: Room, after: int, delivered: int, language: str
) -> tuple[list[protocol.Frame], int | None, int]:
    """A resume's replay: its frames, where it was truncated, and the seq it starts after."""
    room.refresh_from_db(fields=["last_seq"])
    after = selectors.replay_start(after=after, last_seq=room.last_seq, delivered=delivered)
    with translation.override(language):  # notices in the socket's language
        frames, replay_from = selectors.messages_replay(room=room, after=after)
    return frames, replay_from, after


def _open_with_replay(*, code: str, credentials, after: int, delivered: int, language: str):
    with translation.override(language):
        return selectors.socket_open(
            code=code, credentials=credentials, after=after, delivered=delivered
        )


# WeChat's content checks wait on the network: a pool of their own, so that a slow WeChat
# can never take the threads that every socket's database work runs in.
_checks = concurrent.futures.ThreadPoolExecutor(
    max_workers=CHECK_WORKERS, thread_name_prefix="wechat-check"
)


async def _wechat_verdict(user, body: Any) -> str | None:
    """history.services.wechat_screen off the loop, never waited on for longer than its
    timeout (plus a little): when the pool is backed up, the failure policy applies."""
    loop = asyncio.get_running_loop()
    check = loop.run_in_executor(
        _checks, functools.partial(services.wechat_screen, user=user, body=body)
    )
    try:
        return await asyncio.wait_for(
            asyncio.shield(check), timeout=settings.WECHAT_CHECK_TIMEOUT + CHECK_GRACE_SECONDS
        )
    except TimeoutError:
        return services.check_failure_verdict()


def _is_code(code: str) -> bool:
    return len(code) == CODE_LENGTH and all(char in CODE_ALPHABET for char in code)


class RoomConsumer(AsyncJsonWebsocketConsumer):
    # No per-consumer layer channel: the hub subscribes once per room for the process.
    channel_layer_alias = "__room_hub__"

    room: Room | None = None
    user = None
    socket: LocalSocket | None = None
    feed: RoomFeed | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Each event straight to its handler. Channels' own dispatch first closes stale
        database connections in its one sync thread: a thread hop per handshake and per
        received frame, every socket's through the same thread (a fifth of the event
        loop's time while a hall joins, and a hop before every post). This consumer never
        uses that thread for the database: its queries run in_db_thread, which closes its
        own connections before and after."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']!r}")
        await handler(message)

    async def connect(self) -> None:
        # Accept first, then refuse with a close code: every client can read a code, while
        # a refused handshake is an opaque failure in browsers and the mini-program.
        await self.accept()
        credentials = self.scope.get("credentials")
        if credentials is None:
            await self._refuse(protocol.CLOSE_NO_CREDENTIALS)
            return
        code = self.scope["url_route"]["kwargs"]["code"].upper()
        if not _is_code(code):
            await self._refuse(self._unknown_room())
            return
        hub = get_hub()
        socket = self.socket = LocalSocket(
            send=self.base_send,
            code=code,
            kind=credentials.method,
            clock=hub.clock,
            language=self._language(),
        )
        # Subscribe before reading: whatever commits from here on reaches the socket live
        # (buffered until the replay is out), and the seq filter drops what the replay sent.
        self.feed = await hub.attach(socket)
        after, after_error = self._after_seq_from_query()
        try:
            if after is None:  # a hall joining at once: read with the other handshakes
                opened = await hub.handshakes.open(code=code, credentials=credentials)
            else:
                opened = await in_db_thread(_open_with_replay)(
                    code=code,
                    credentials=credentials,
                    after=after,
                    delivered=self.feed.delivered,
                    language=socket.language,
                )
        except NotAuthenticated:
            socket.close(protocol.CLOSE_NO_CREDENTIALS)
            return
        except NotFound:
            socket.close(self._unknown_room())
            return
        except PermissionDenied:
            # A stranger past the guard learns nothing: the same refusal as for no room.
            socket.close(protocol.CLOSE_TOO_MANY if self._guessing() else protocol.CLOSE_FORBIDDEN)
            return
        except Gone:
            socket.push_frame(protocol.room_closed_frame())
            socket.close(protocol.CLOSE_ROOM_CLOSED)
            return
        if socket.closed:
            return  # the client went away, or the room closed, while the read was under way
        user_id = str(opened.user.pk)
        # A ban or leave that committed after the read reached the feed before the socket
        # had a user to match; the feed remembers it.
        if self.feed.was_removed(user_id, since=socket.attached_at):
            socket.close(protocol.CLOSE_FORBIDDEN)
            return
        if not hub.claim(socket, user_id):
            socket.close(protocol.CLOSE_TOO_MANY_SOCKETS)
            return
        self.room, self.user = opened.room, opened.user
        metrics.HANDSHAKE_SECONDS.observe(hub.clock() - socket.attached_at)
        members, online = self.feed.counts_for_hello()
        socket.push_frame(
            protocol.hello_frame(
                room=code,
                last_seq=opened.last_seq,
                members=members,
                online=online,
                my_member_id=opened.member_id,
            )
        )
        if after_error:
            socket.push_frame(protocol.error_frame("invalid", INVALID_AFTER_SEQ))
        if after is None:
            socket.go_live(opened.last_seq)
        else:
            await self._send_replay(opened.replay, opened.replay_from, opened.replay_after)

    # The room-code guard (rooms.selectors.room_get_guarded), consulted only when a socket
    # is refused: members are always let in, so a hall joining at once costs no cache read.
    def _guessing(self) -> bool:
        return failed_lookups_wait(socket_address(self.scope)) is not None

    def _unknown_room(self) -> int:
        """The close code for an unknown room, counted against the client's address."""
        if self._guessing():
            return protocol.CLOSE_TOO_MANY
        failed_lookup_record(socket_address(self.scope))
        return protocol.CLOSE_UNKNOWN_ROOM

    async def _refuse(self, code: int) -> None:
        """Close a socket refused before it reached the hub."""
        metrics.SOCKETS_CLOSED.labels(str(code)).inc()
        await self.close(code)

    def _language(self) -> str:
        """`?lang=`, else the handshake's Accept-Language, else the site's (history.notices)."""
        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        headers = dict(self.scope.get("headers") or [])
        accept = headers.get(b"accept-language", b"").decode("latin1")
        return socket_language((query.get("lang") or [None])[-1], accept)

    def _after_seq_from_query(self) -> tuple[int | None, bool]:
        """(after_seq or None, whether the query held an invalid one)."""
        values = parse_qs(self.scope.get("query_string", b"").decode("latin1")).get("after_seq")
        if not values:
            return None, False
        try:
            after = int(values[-1])
        except ValueError:
            after = -1
        if after < 0:
            return None, True
        return after, False

    async def _send_replay(
        self, replay: list[protocol.Frame], replay_from: int | None, after: int
    ) -> None:
        """The replay of the messages above `after` (selectors.replay_start), then live."""
        socket = self.socket
        socket.seq = after
        if replay_from is not None:
            socket.push_frame(protocol.resume_truncated_frame(replay_from))
        last = after
        half = socket.limit // 2
        for frame in replay:
            if socket.backlog() > half and not await socket.drained(
                below=half, timeout=settings.HUILIAO_WS_IDLE_TIMEOUT
            ):
                socket.cut_off()
                return
            socket.push_frame(frame)
            last = frame["message"]["seq"]
        socket.go_live(last)

    def _resume_allowed(self) -> bool:
        now = time.monotonic()
        recent = [at for at in getattr(self, "resumes", []) if now - at < RESUME_WINDOW_SECONDS]
        self.resumes = recent
        if len(recent) >= RESUME_BUDGET:
            return False
        recent.append(now)
        return True

    async def _resume(self, after: int) -> None:
        if not self._resume_allowed():
            self.socket.push_frame(protocol.error_frame(*RESUME_REFUSED))
            return
        self.socket.live = False
        replay, replay_from, after = await in_db_thread(_replay)(
            room=self.room,
            after=after,
            delivered=self.feed.delivered,
            language=self.socket.language,
        )
        await self._send_replay(replay, replay_from, after)

    async def disconnect(self, code: int) -> None:
        if self.socket is not None:
            get_hub().detach(self.socket)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs
    ) -> None:
        socket = self.socket
        if socket is None or socket.closed or socket.user_id is None:
            return
        socket.heard()
        try:
            content = json.loads(text_data) if text_data is not None else None
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            content = None
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            socket.push_frame(protocol.error_frame("invalid", "Send a JSON object with a type."))
            return
        try:
            await self.receive_json(content)
        except Exception:
            # A bug must cost the client one refused frame, not the socket (a socket that
            # died with 1011 would stay attached to its room until the idle sweep).
            logger.exception(
                "room %s: could not handle a %r frame", self.room.code, content["type"]
            )
            socket.push_frame(protocol.error_frame(*SERVER_ERROR))

    async def receive_json(self, content: dict[str, Any], **kwargs) -> None:
        kind = content["type"]
        socket = self.socket
        if kind == "ping":
            socket.push_frame(protocol.pong_frame())
        elif kind == "send":
            await self._send_message(content)
        elif kind == "resume":
            after = content.get("after_seq")
            if not isinstance(after, int) or isinstance(after, bool) or after < 0:
                socket.push_frame(protocol.error_frame("invalid", INVALID_AFTER_SEQ))
                return
            await self._resume(after)
        else:
            socket.push_frame(protocol.error_frame("invalid", f"Unknown frame type {kind!r}."))

    async def _send_message(self, content: dict[str, Any]) -> None:
        body = content.get("body")
        # WeChat's content check (WeChat users only) waits on the network: in a thread of
        # its own, so neither the event loop nor a database thread waits with it.
        wechat_verdict = None
        if self.user.kind == self.user.Kind.WECHAT:
            wechat_verdict = await _wechat_verdict(self.user, body)
        try:
            frame, created, held = await in_db_thread(_post)(
                room=self.room, user=self.user, content=content, wechat_verdict=wechat_verdict
            )
        except DomainError as exc:
            retry_after = getattr(exc, "wait", None)
            self.socket.push_frame(
                protocol.error_frame(exc.code, exc.detail, retry_after=retry_after)
            )
            return
        except (db.OperationalError, db.InterfaceError) as exc:
            # Nothing was stored: the client re-sends with the same client_id.
            unavailable = database_unavailable(exc)
            database_failures.failed(exc, what=f"socket post in room {self.room.code}")
            self.socket.push_frame(protocol.error_frame(unavailable.code, unavailable.detail))
            return
        if not created or held:
            # A re-send of a stored client_id: the sender gets the stored message back
            # (nobody else: they had it the first time). A held one: everyone gets its
            # placeholder through the hub, its sender also their own text.
            self.socket.push_frame(frame)
        # A new message reaches everyone, the sender included, through the hub.
