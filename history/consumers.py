"""`/ws/rooms/{code}/`: a room's live stream (see the README, "The live protocol").

A thin shell: access checks come from the selectors, posting from `message_post` (the same
validation, throttle, mute/ban checks and client_id idempotency as REST), and live frames
from the process's room hub (history.hub), which writes them to this socket directly. Every
frame this consumer sends goes through the hub's socket too, so hello, replay, replies and
live frames leave in one order.
"""

import json
import time
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from history import selectors, services
from history.events import message_frame
from history.hub import (
    CLOSE_FORBIDDEN,
    CLOSE_NO_CREDENTIALS,
    CLOSE_ROOM_CLOSED,
    CLOSE_UNKNOWN_ROOM,
    LocalSocket,
    RoomFeed,
    get_hub,
    in_db_thread,
)
from huiliao_site.errors import DomainError, Gone, NotFound, PermissionDenied
from rooms import selectors as room_selectors
from rooms.events import Frame, room_closed_frame
from rooms.models import Room


def error_frame(code: str, detail: str) -> Frame:
    return {"type": "error", "code": code, "detail": detail}


def _open_room(*, code: str, user) -> Room:
    """The room, for a current member of an open room; otherwise a DomainError."""
    room, _membership = room_selectors.room_get_for_member(code=code, user=user)
    room_selectors.room_check_open(room=room)
    return room


def _hello(*, room: Room, user) -> Frame:
    """Read once the hub is subscribed, so last_seq is where the live stream takes over.

    Membership and the room's state are checked again here: a ban, leave or close that
    committed between `_open_room` and the subscription pushed its event before this
    socket listened, and would otherwise leave it open and fed.
    """
    room.refresh_from_db(fields=["last_seq", "closed_at", "expires_at"])
    room_selectors.membership_get_current(room=room, user=user)
    room_selectors.room_check_open(room=room)
    return {
        "type": "hello",
        "room": room.code,
        "last_seq": room.last_seq,
        "members": room_selectors.member_count(room=room),
    }


def _replay(*, room: Room, after: int) -> tuple[list[Frame], int | None, int]:
    """Every message above `after`, or the newest HUILIAO_RESUME_LIMIT of them and the seq
    the replay starts at (the client pages the rest over REST); and the room's last seq."""
    room.refresh_from_db(fields=["last_seq"])
    limit = settings.HUILIAO_RESUME_LIMIT
    messages = selectors.messages_after(room=room, after=after, limit=limit + 1)
    first_seq = None
    if len(messages) > limit:
        messages, _more = selectors.messages_page(room=room, limit=limit)
        first_seq = messages[0].seq
    return [message_frame(message) for message in messages], first_seq, room.last_seq


def _post(*, room: Room, user, body: Any, client_id: Any) -> tuple[Frame, bool]:
    message, created = services.message_post(room=room, user=user, body=body, client_id=client_id)
    return message_frame(message), created


class RoomConsumer(AsyncJsonWebsocketConsumer):
    # No per-consumer layer channel: the hub subscribes once per room for the process.
    channel_layer_alias = "__room_hub__"

    room: Room | None = None
    socket: LocalSocket | None = None
    feed: RoomFeed | None = None

    async def connect(self) -> None:
        # Accept first, then refuse with a close code: every client can read a code, while
        # a refused handshake is an opaque failure in browsers and the mini-program.
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(CLOSE_NO_CREDENTIALS)
            return
        code = self.scope["url_route"]["kwargs"]["code"]
        try:
            self.room = await in_db_thread(_open_room)(code=code, user=user)
        except NotFound:
            await self.close(CLOSE_UNKNOWN_ROOM)
            return
        except PermissionDenied:
            await self.close(CLOSE_FORBIDDEN)
            return
        except Gone:
            await self.send_json(room_closed_frame())
            await self.close(CLOSE_ROOM_CLOSED)
            return
        self.socket = LocalSocket(send=self.base_send, user_id=str(user.pk), code=self.room.code)
        # Subscribe before reading: whatever commits from here on reaches the socket live
        # (buffered until the replay is out), and the seq filter drops what the replay sent.
        self.feed = await get_hub().attach(self.socket, room_id=self.room.pk)
        try:
            hello = await in_db_thread(_hello)(room=self.room, user=user)
        except PermissionDenied:
            self.socket.close(CLOSE_FORBIDDEN)
            return
        except Gone:
            self.socket.push_frame(room_closed_frame())
            self.socket.close(CLOSE_ROOM_CLOSED)
            return
        self.socket.push_frame(hello)
        after = self._after_seq_from_query()
        if after is None:
            self.socket.go_live(hello["last_seq"])
        else:
            await self._resume(after)

    def _after_seq_from_query(self) -> int | None:
        values = parse_qs(self.scope.get("query_string", b"").decode("latin1")).get("after_seq")
        if not values:
            return None
        try:
            after = int(values[-1])
        except ValueError:
            after = -1
        if after < 0:
            self.socket.push_frame(error_frame("invalid", "after_seq must be a whole number ≥ 0."))
            return None
        return after

    async def _resume(self, after: int) -> None:
        socket = self.socket
        socket.live = False
        frames, first_seq, last_seq = await in_db_thread(_replay)(room=self.room, after=after)
        # A client ahead of the room (stale state, say from before a purge) would otherwise
        # have every live message dropped until the room's seq passed its own.
        after = min(after, last_seq)
        socket.seq = after
        if first_seq is not None:
            socket.push_frame({"type": "resume_truncated", "first_seq": first_seq})
        last = after
        for frame in frames:
            socket.push_frame(frame)
            last = frame["message"]["seq"]
        socket.go_live(last)

    async def disconnect(self, code: int) -> None:
        if self.socket is not None:
            get_hub().detach(self.socket)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs
    ) -> None:
        socket = self.socket
        if socket is None or socket.closed:
            return
        socket.last_heard = time.monotonic()
        try:
            content = json.loads(text_data) if text_data is not None else None
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            content = None
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            socket.push_frame(error_frame("invalid", "Send a JSON object with a type."))
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict[str, Any], **kwargs) -> None:
        kind = content["type"]
        socket = self.socket
        if kind == "ping":
            socket.push_frame({"type": "pong"})
        elif kind == "send":
            await self._send_message(content)
        elif kind == "resume":
            after = content.get("after_seq")
            if not isinstance(after, int) or isinstance(after, bool) or after < 0:
                socket.push_frame(error_frame("invalid", "after_seq must be a whole number ≥ 0."))
                return
            await self._resume(after)
        else:
            socket.push_frame(error_frame("invalid", f"Unknown frame type {kind!r}."))

    async def _send_message(self, content: dict[str, Any]) -> None:
        try:
            frame, created = await in_db_thread(_post)(
                room=self.room,
                user=self.scope["user"],
                body=content.get("body"),
                client_id=content.get("client_id"),
            )
        except DomainError as exc:
            self.socket.push_frame(error_frame(exc.code, exc.detail))
            return
        if not created:
            # A re-send of a stored client_id: the sender gets the stored message back
            # (nobody else: they had it the first time).
            self.socket.push_frame(frame)
        # A new message reaches everyone, the sender included, through the hub.
