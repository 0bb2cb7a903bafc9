"""The room hub: one per process (per event loop), between the channel layer and the sockets.

The Channels tutorial pattern — every consumer joins the room's group and gets its own
copy of every event through the channel layer — tops out at a few thousand frames per
second on a small machine. Here the process, not each socket, subscribes: the hub holds
one layer channel per room that has local sockets (subscribed on the first, dropped with
the last), receives each event once, encodes it to JSON once and hands the same ASGI
message to every local socket.

Delivery rules, which make the layer's losses and reorderings harmless:
- Seqs are allocated under the room row lock, so when seq N is published every seq < N
  is committed. A message above the next expected seq makes the hub read the missing ones
  from the database first; a message at or below the last one delivered is dropped. Each
  socket also remembers the last seq it was sent, so its own replay and the live stream
  never overlap.
- Every few seconds (and exactly at `expires_at`) the hub re-reads the room: messages the
  layer dropped at the tail are filled in, and a room that closed or expired while
  sockets were open gets `room_closed` and close code 4410, in every process.
- A socket's sends are handed to the server in order. A send that does not complete at
  once (a slow client behind a server with back-pressure) is finished by a task while the
  hub moves on; frames for that socket queue behind it, and a socket whose queue exceeds
  HUILIAO_WS_QUEUE_LIMIT is closed with 4408 (the client resumes by seq).
"""

import asyncio
import functools
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from channels.db import DatabaseSyncToAsync
from channels.layers import get_channel_layer
from django.conf import settings

from history import selectors
from history.events import message_frame
from rooms.events import Frame, group_name, room_closed_frame

logger = logging.getLogger(__name__)

CLOSE_NO_CREDENTIALS = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_UNKNOWN_ROOM = 4404
CLOSE_TOO_SLOW = 4408
CLOSE_ROOM_CLOSED = 4410

Send = Callable[[dict[str, Any]], Awaitable[None]]


def in_db_thread(func):
    """Run ORM work in the shared thread pool rather than the one thread-sensitive
    thread: a join burst's reads then run side by side instead of queueing behind each
    other and behind the auth middleware's token look-ups (Daphne refuses handshakes that
    take over 5 s)."""
    return DatabaseSyncToAsync(func, thread_sensitive=False)


def encode(frame: Frame) -> dict[str, Any]:
    """The ASGI message for a frame: encoded once, shared by every socket it goes to."""
    return {
        "type": "websocket.send",
        "text": json.dumps(frame, ensure_ascii=False, separators=(",", ":")),
    }


async def _resume(coro: Coroutine, yielded: Any) -> None:
    """Finish a coroutine that suspended on `yielded`, exactly as a Task would.

    Python 3.12's eager tasks do this for us; on 3.11 the hub steps each send by hand so
    that a send the server completes at once (Daphne's always does) costs no task at all.
    """
    try:
        while True:
            if yielded is None:
                await asyncio.sleep(0)
            else:
                yielded._asyncio_future_blocking = False
                # Wait without taking the result: the coroutine reads it when resumed.
                await asyncio.wait([yielded])
            yielded = coro.send(None)
    except StopIteration:
        return
    finally:
        coro.close()


class DaphneWire:
    """Direct access to a Daphne websocket's TCP transport, where we can have it safely.

    Daphne completes every ASGI send at once: autobahn frames the text, and Twisted
    registers the socket for writing and sends on the next loop turn. That costs two
    epoll updates, a send and some fifty Python calls per frame, which caps a process far
    below a keynote hall's 20,000 frames per second. For a plain-TCP socket without
    compression whose send is Daphne's own (no middleware wrapped it: token-authenticated
    sockets), the hub writes the frame bytes — built once per event — straight to the
    socket when nothing is buffered ahead of them, and otherwise appends them to Twisted's
    buffer, so order is kept either way. It also measures what a client does not read:
    Daphne buffers without bound, so our own queue would never fill behind it.
    """

    __slots__ = ("protocol", "transport")

    def __init__(self, protocol: Any, transport: Any) -> None:
        self.protocol = protocol
        self.transport = transport

    @classmethod
    def find(cls, send: Send) -> "DaphneWire | None":
        protocol = send.args[0] if isinstance(send, functools.partial) and send.args else None
        transport = getattr(protocol, "transport", None)
        if (
            transport is None
            or getattr(protocol, "_perMessageCompress", True) is not None
            or not hasattr(protocol, "STATE_OPEN")
            or not all(
                hasattr(transport, name)
                for name in ("socket", "dataBuffer", "offset", "_tempDataLen")
            )
        ):
            return None
        return cls(protocol, transport)

    def backlog(self) -> int:
        # Frames go to Twisted's buffers only once the kernel refused one (the client's
        # window and the kernel's buffers are full): all of this is what the client has
        # not read.
        transport = self.transport
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen

    def write(self, message: dict[str, Any]) -> bool:
        """Write a `websocket.send` text message; False: leave it to Daphne."""
        protocol, transport = self.protocol, self.transport
        if (
            protocol.state != protocol.STATE_OPEN
            or not transport.connected
            or transport.disconnecting
        ):
            return False
        data = message.get("_wire")
        if data is None:
            data = message["_wire"] = wire_frame(message["text"])
        if self.backlog():
            transport.write(data)
            return True
        try:
            sent = transport.socket.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            return False  # the connection is going: Daphne reports the disconnect
        if sent < len(data):
            transport.write(data[sent:])
        return True


def wire_frame(text: str) -> bytes:
    """An unmasked final text frame (RFC 6455 5.2), as a server sends it."""
    payload = text.encode()
    length = len(payload)
    if length < 126:
        header = bytes((0x81, length))
    elif length < 65536:
        header = bytes((0x81, 126)) + length.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + length.to_bytes(8, "big")
    return header + payload


# Behind Daphne the limit is counted in bytes the server could not write yet: a kilobyte
# per frame of HUILIAO_WS_QUEUE_LIMIT (message frames are a few hundred bytes).
BACKLOG_BYTES_PER_FRAME = 1024


class LocalSocket:
    """One websocket of this process, as the hub sees it."""

    __slots__ = (
        "send",
        "user_id",
        "code",
        "seq",
        "live",
        "buffer",
        "pending",
        "writer",
        "closed",
        "last_heard",
        "limit",
        "on_close",
        "wire",
    )

    def __init__(self, *, send: Send, user_id: str, code: str) -> None:
        self.send = send
        self.user_id = user_id
        self.code = code
        self.seq = 0  # the last message seq this socket was sent
        self.live = False  # False while hello/replay is being sent: live frames wait in buffer
        self.buffer: list[tuple[int | None, dict[str, Any]]] = []
        self.pending: deque[dict[str, Any]] = deque()
        self.writer: asyncio.Task | None = None
        self.closed = False
        self.last_heard = time.monotonic()
        self.limit = settings.HUILIAO_WS_QUEUE_LIMIT
        self.on_close: Callable[[LocalSocket], None] | None = None
        self.wire = DaphneWire.find(send)

    def push(self, message: dict[str, Any]) -> None:
        """Hand one ASGI message to the server after those before it, without waiting."""
        if self.closed:
            return
        if self.writer is not None:
            if len(self.pending) >= self.limit:
                self._cut_off()
                return
            self.pending.append(message)
            return
        wire = self.wire
        if wire is not None:
            if wire.backlog() > self.limit * BACKLOG_BYTES_PER_FRAME:
                self._cut_off()
                return
            if message["type"] == "websocket.send" and "text" in message and wire.write(message):
                return
        self._write(message)

    def _write(self, message: dict[str, Any]) -> None:
        coro = self.send(message)
        try:
            yielded = coro.send(None)
        except StopIteration:
            return
        except Exception:
            coro.close()
            logger.debug("send failed; dropping socket", exc_info=True)
            self._detach()
            return
        self.writer = asyncio.ensure_future(self._drain(coro, yielded))

    async def _drain(self, coro: Coroutine, yielded: Any) -> None:
        try:
            await _resume(coro, yielded)
            while self.pending:
                await self.send(self.pending.popleft())
        except Exception:
            logger.debug("send failed; dropping socket", exc_info=True)
            self._detach()
        finally:
            self.writer = None

    def push_frame(self, frame: Frame) -> None:
        self.push(encode(frame))

    def deliver(self, seq: int | None, message: dict[str, Any]) -> None:
        """A live frame (`seq` for messages): sent now, or kept until the replay is done."""
        if not self.live:
            self.buffer.append((seq, message))
        elif seq is None or seq > self.seq:
            if seq is not None:
                self.seq = seq
            self.push(message)

    def go_live(self, seq: int) -> None:
        """The replay (if any) is sent up to `seq`: send what came meanwhile, above it."""
        self.seq = max(self.seq, seq)
        self.live = True
        buffered, self.buffer = self.buffer, []
        for frame_seq, message in buffered:
            self.deliver(frame_seq, message)

    def _cut_off(self) -> None:
        logger.info("room %s: socket too slow, closed with %d", self.code, CLOSE_TOO_SLOW)
        self.close(CLOSE_TOO_SLOW)

    def close(self, code: int) -> None:
        """Close with `code` after what is already handed over; nothing is sent after it."""
        if self.closed:
            return
        message = {"type": "websocket.close", "code": code}
        if self.writer is not None:
            # Still waiting on the server: what is queued is stale, the client resumes by seq.
            self.pending.clear()
            self.pending.append(message)
        else:
            self._write(message)
        self._detach()

    def _detach(self) -> None:
        self.closed = True
        self.buffer = []
        if self.on_close is not None:
            on_close, self.on_close = self.on_close, None
            on_close(self)


class RoomFeed:
    """The hub's subscription to one room: its layer channel and its local sockets."""

    def __init__(self, hub: "Hub", code: str, room_id: int) -> None:
        self.hub = hub
        self.code = code
        self.room_id = room_id
        self.sockets: set[LocalSocket] = set()
        self.delivered = 0  # the last message seq handed to the local sockets
        self.closed = False
        self.lock = asyncio.Lock()
        self.ready = asyncio.get_running_loop().create_future()
        self.channel: str | None = None
        self.tasks: list[asyncio.Task] = []
        self.stopped = False

    def start(self) -> None:
        self.tasks.append(asyncio.ensure_future(self._run()))

    async def _run(self) -> None:
        try:
            await self._subscribe()
        except Exception as exc:
            logger.exception("could not subscribe to room %s", self.code)
            self.ready.set_exception(exc)
            self.closed = True
            if self.hub.feeds.get(self.code) is self:
                del self.hub.feeds[self.code]
            return
        self.ready.set_result(None)
        self.tasks.append(asyncio.ensure_future(self._watch()))
        await self._receive()

    async def _subscribe(self) -> None:
        layer = self.hub.layer
        if layer is not None:
            self.channel = await layer.new_channel(prefix="hub")
            await layer.group_add(group_name(self.code), self.channel)
        # Read after subscribing: anything committed later arrives through the layer.
        state = await in_db_thread(selectors.room_live_state)(room_id=self.room_id)
        self.delivered = state["last_seq"] if state else 0

    async def _receive(self) -> None:
        layer = self.hub.layer
        if layer is None:
            return
        failures = 0
        while True:
            try:
                event = await layer.receive(self.channel)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                # Redis went away: wait, then check the room so nothing missed stays missed.
                failures += 1
                logger.warning("room %s: layer receive failed", self.code, exc_info=failures == 1)
                await asyncio.sleep(min(5, 0.5 * failures))
                await self._guarded(self.check)
                continue
            frame = event.get("frame") if isinstance(event, dict) else None
            if frame is not None:
                await self._guarded(self.handle, frame)

    async def _watch(self) -> None:
        """Re-read the room every few seconds, and exactly when it expires."""
        while True:
            delay = settings.HUILIAO_HUB_CHECK_SECONDS
            expires_at = await self._guarded(self.check)
            if expires_at is not None:
                delay = max(0.0, min(delay, expires_at - time.time()))
            await asyncio.sleep(delay)

    async def _guarded(self, method, *args):
        async with self.lock:
            if self.closed:
                return None
            try:
                return await method(*args)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("room %s: hub error", self.code)
                return None

    async def handle(self, frame: Frame) -> None:
        kind = frame.get("type")
        if kind == "message":
            seq = frame["message"]["seq"]
            if seq <= self.delivered:
                return  # already delivered (layer duplicate, or read from the database)
            if seq > self.delivered + 1:
                await self._fill(seq - 1)
            self._deliver_message(seq, frame)
        elif kind == "_member_removed":
            for socket in [s for s in self.sockets if s.user_id == frame["user_id"]]:
                socket.close(CLOSE_FORBIDDEN)
        elif kind == "room_closed":
            self._close_room()
        elif isinstance(kind, str) and not kind.startswith("_"):
            message = encode(frame)
            for socket in list(self.sockets):
                socket.deliver(None, message)

    async def check(self) -> float | None:
        """Fill a missed tail and close the room if it closed or expired. Returns the
        expiry as a Unix time, so the watcher can wake exactly then."""
        state = await in_db_thread(selectors.room_live_state)(room_id=self.room_id)
        if state is None or not state["open"]:
            self._close_room()
            return None
        if state["last_seq"] > self.delivered:
            await self._fill(state["last_seq"])
        expires_at = state["expires_at"]
        return expires_at.timestamp() if expires_at is not None else None

    async def _fill(self, last: int) -> None:
        messages = await in_db_thread(selectors.messages_range)(
            room_id=self.room_id, first=self.delivered + 1, last=last
        )
        if messages:
            # The layer dropped or reordered these; rare, and worth knowing about.
            logger.info("room %s: %d message(s) filled from the database", self.code, len(messages))
        for message in messages:
            if message.seq > self.delivered:
                self._deliver_message(message.seq, message_frame(message))

    def _deliver_message(self, seq: int, frame: Frame) -> None:
        self.delivered = seq
        message = encode(frame)
        for socket in list(self.sockets):
            socket.deliver(seq, message)

    def _close_room(self) -> None:
        self.closed = True
        message = encode(room_closed_frame())
        for socket in list(self.sockets):
            # Also for a socket still replaying: the room is gone, its replay is moot.
            socket.push(message)
            socket.close(CLOSE_ROOM_CLOSED)
        self.hub.forget(self)

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.closed = True
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"room {self.code}: feed stopped"))
        layer = self.hub.layer
        if layer is not None and self.channel is not None:
            try:
                await layer.group_discard(group_name(self.code), self.channel)
            except Exception:
                logger.warning("room %s: could not leave the layer group", self.code, exc_info=True)


class Hub:
    """The process's room hub (one per event loop; Daphne runs one)."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.feeds: dict[str, RoomFeed] = {}
        self.sockets: set[LocalSocket] = set()
        self.sweeper: asyncio.Task | None = None
        self.stopping: set[asyncio.Task] = set()

    async def attach(self, socket: LocalSocket, *, room_id: int) -> RoomFeed:
        """Start feeding `socket` with its room's live frames (buffered until go_live)."""
        feed = self.feeds.get(socket.code)
        if feed is None:
            feed = self.feeds[socket.code] = RoomFeed(self, socket.code, room_id)
            feed.start()
        feed.sockets.add(socket)
        self.sockets.add(socket)
        socket.on_close = self._on_socket_closed
        if self.sweeper is None:
            self.sweeper = asyncio.ensure_future(self._sweep())
        await asyncio.shield(feed.ready)
        return feed

    def detach(self, socket: LocalSocket) -> None:
        socket.closed = True
        self._on_socket_closed(socket)

    def _on_socket_closed(self, socket: LocalSocket) -> None:
        socket.on_close = None
        self.sockets.discard(socket)
        feed = self.feeds.get(socket.code)
        if feed is None or socket not in feed.sockets:
            return
        feed.sockets.discard(socket)
        if not feed.sockets:
            self.forget(feed)

    def forget(self, feed: RoomFeed) -> None:
        """Unsubscribe a feed (last local socket gone, or the room closed)."""
        if self.feeds.get(feed.code) is feed:
            del self.feeds[feed.code]
        task = asyncio.ensure_future(feed.stop())
        self.stopping.add(task)
        task.add_done_callback(self.stopping.discard)

    async def close(self) -> None:
        """Close every local socket and unsubscribe every room (shutdown, tests)."""
        for socket in list(self.sockets):
            socket.close(CLOSE_TOO_SLOW)
        for feed in list(self.feeds.values()):
            self.forget(feed)
        await asyncio.gather(*self.stopping, return_exceptions=True)
        if self.sweeper is not None:
            self.sweeper.cancel()
            await asyncio.gather(self.sweeper, return_exceptions=True)
            self.sweeper = None

    async def _sweep(self) -> None:
        """Close sockets that stayed silent past HUILIAO_WS_IDLE_TIMEOUT (no ping)."""
        while True:
            timeout = settings.HUILIAO_WS_IDLE_TIMEOUT
            await asyncio.sleep(max(0.2, min(5.0, timeout / 4)))
            deadline = time.monotonic() - timeout
            for socket in [s for s in self.sockets if s.last_heard < deadline]:
                socket.close(CLOSE_TOO_SLOW)


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def get_hub() -> Hub:
    """The hub of the running event loop (one in a server; tests run one loop per test)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        for old in [old for old in _hubs if old.is_closed()]:
            del _hubs[old]
        hub = _hubs[loop] = Hub()
    return hub
