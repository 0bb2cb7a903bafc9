"""One websocket of this process, as the room hub sees it: an ordered, bounded queue.

Frames reach the client in the order they are pushed: hello, replay, replies and live
frames alike. Where the server is Daphne (`fastpath.ServerWire`) the frame bytes go
straight to the TCP socket; anywhere else (the test communicator, another ASGI server)
through the plain ASGI send, a send that does not complete at once being finished by a
task while later frames queue behind it.

Every socket is bounded the same way, whichever way it authenticated: more than
HUILIAO_WS_BACKLOG_KB of frames the client has not read (the kernel's capped buffer
included) cuts it off, and so does a client whose kernel queue stays full for
HUILIAO_WS_IDLE_TIMEOUT even if it keeps pinging.
"""

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from django.conf import settings

from history.live.fastpath import (
    GONE,
    KERNEL_SEND_BUFFER,
    OVER,
    WRITE_DIRECT,
    WRITTEN,
    Send,
    ServerWire,
    frame_bytes,
)
from rooms.protocol import CLOSE_TOO_SLOW, Frame
from rooms.protocol import encode as encode_frame

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

# What the kernel may hold for one socket on top of Twisted's buffer (it doubles SO_SNDBUF).
KERNEL_BYTES = 2 * KERNEL_SEND_BUFFER


async def _resume(coro: Coroutine, yielded: Any) -> None:
    """Finish a coroutine that suspended on `yielded`, exactly as a Task would.

    Python 3.12's eager tasks do this for us; on 3.11 a send the server completes at once
    then costs no task at all.
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


class Burst:
    """Frames a room's feed hands its sockets in one turn of the event loop, in order.

    Usually one. When the process falls behind (a hall's worth of writes per message on a
    busy machine), several wait in the layer and are handled in one turn: a socket that is
    live and behind all of them then gets them in one write, their bytes joined once for
    every socket. The busier the process, the fewer writes per frame, so a backlog drains
    instead of growing.
    """

    __slots__ = ("frames", "first_seq", "last_seq", "joinable", "_wire")

    def __init__(self, frames: list[tuple[int | None, dict[str, Any]]]) -> None:
        self.frames = frames
        seqs = [seq for seq, _ in frames if seq is not None]
        self.first_seq = seqs[0] if seqs else None
        self.last_seq = seqs[-1] if seqs else None
        self.joinable = all(
            message["type"] == "websocket.send" and "text" in message for _, message in frames
        )
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        if self._wire is None:
            self._wire = b"".join(frame_bytes(message) for _, message in self.frames)
        return self._wire


class LocalSocket:
    __slots__ = (
        "send",
        "code",
        "kind",
        "user_id",
        "seq",
        "live",
        "buffer",
        "pending",
        "pending_bytes",
        "writer",
        "closed",
        "clock",
        "attached_at",
        "last_heard",
        "stalled_since",
        "limit",
        "on_close",
        "wire",
        "language",
        "epoch",
    )

    def __init__(
        self,
        *,
        send: Send,
        code: str,
        kind: str = "",
        clock: Clock = time.monotonic,
        language: str = "",
    ):
        self.send = send
        self.language = language or settings.LANGUAGE_CODE  # system notices are worded in it
        self.code = code
        self.kind = kind  # "token" or "session": for the metrics and logs
        self.user_id: str | None = None  # known once the handshake's one query answered
        self.seq = 0  # the last message seq this socket was sent
        self.live = False  # False while hello/replay is being sent: live frames wait in buffer
        self.buffer: list[tuple[int | None, dict[str, Any]]] = []
        self.pending: deque[dict[str, Any]] = deque()
        self.pending_bytes = 0
        self.writer: asyncio.Task | None = None
        self.closed = False
        self.clock = clock
        self.attached_at = self.last_heard = clock()
        self.stalled_since: float | None = None
        self.limit = settings.HUILIAO_WS_BACKLOG_KB * 1024
        self.on_close: Callable[[LocalSocket], None] | None = None
        self.wire = ServerWire.find(send)
        self.epoch = 0  # the garbage collector's freeze it was attached in (collector.py)

    @property
    def path(self) -> str:
        return self.wire.mode if self.wire is not None else "asgi"

    def heard(self) -> None:
        self.last_heard = self.clock()

    def backlog(self) -> int:
        """Bytes handed over that the client has not read yet (an upper bound)."""
        if self.wire is not None:
            return self.wire.backlog() + KERNEL_BYTES
        return self.pending_bytes

    # --- writing ------------------------------------------------------------------------------
    def push(self, message: dict[str, Any]) -> None:
        """Hand one ASGI message to the server after those before it, without waiting."""
        if self.closed:
            return
        if self.writer is not None:
            size = len(message.get("text", ""))
            if self.pending_bytes + size > self.limit:
                self.cut_off()
                return
            self.pending.append(message)
            self.pending_bytes += size
            return
        wire = self.wire
        if wire is not None and message["type"] == "websocket.send" and "text" in message:
            if self._done(wire.write(message, self.limit - KERNEL_BYTES)):
                return
        self._write(message)

    def _done(self, written: int) -> bool:
        """After a direct write: True if it was written, or the socket was cut off for
        leaving too much unread; False: the connection is going, leave it to the server."""
        if written == OVER:
            self.cut_off()
        return written != GONE

    def push_frame(self, frame: Frame) -> None:
        self.push(encode_frame(frame))

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
                message = self.pending.popleft()
                self.pending_bytes -= len(message.get("text", ""))
                await self.send(message)
        except Exception:
            logger.debug("send failed; dropping socket", exc_info=True)
            self._detach()
        finally:
            self.writer = None

    async def drained(self, *, below: int, timeout: float) -> bool:
        """Wait until the unread backlog is under `below` bytes (a long replay pauses for a
        slow client instead of tripping its limit). False: it did not drain in time."""
        deadline = self.clock() + timeout
        while self.backlog() > below:
            if self.closed or self.clock() > deadline:
                return False
            await asyncio.sleep(0.05)
        return not self.closed

    # --- live frames --------------------------------------------------------------------------
    def deliver(self, seq: int | None, message: dict[str, Any]) -> None:
        """A live frame (`seq` for messages): sent now, or kept until the replay is done."""
        if not self.live:
            self.buffer.append((seq, message))
        elif seq is None or seq > self.seq:
            if seq is not None:
                self.seq = seq
            self.push(message)

    def deliver_burst(self, burst: Burst) -> bool:
        """Several live frames: in one write where the socket can take them so (the same
        bytes as frame by frame), else one by one. True: they went in one write."""
        if self.closed:
            return False
        wire = self.wire
        if (
            self.live
            and wire is not None
            and self.writer is None
            and wire.mode == WRITE_DIRECT
            and burst.joinable
            and (burst.first_seq is None or burst.first_seq > self.seq)
        ):
            written = wire.write_bytes(burst.wire, self.limit - KERNEL_BYTES)
            if written == WRITTEN and burst.last_seq is not None:
                self.seq = burst.last_seq
            if self._done(written):
                return written == WRITTEN
        for seq, message in burst.frames:
            self.deliver(seq, message)
        return False

    def go_live(self, seq: int) -> None:
        """The replay (if any) is sent up to `seq`: send what came meanwhile, above it."""
        self.seq = max(self.seq, seq)
        self.live = True
        buffered, self.buffer = self.buffer, []
        for frame_seq, message in buffered:
            self.deliver(frame_seq, message)

    # --- stalls and closing -------------------------------------------------------------------
    def is_stalled(self, now: float, timeout: float) -> bool:
        """Whether the client has left data unread in the kernel for `timeout` seconds.
        A client that pings but does not read is as gone as a silent one."""
        wire = self.wire
        if wire is None:
            blocked = self.writer is not None
        else:
            blocked = wire.backlog() > 0 or wire.unsent_in_kernel() > 0
        if not blocked:
            self.stalled_since = None
            return False
        if self.stalled_since is None:
            self.stalled_since = now
        return now - self.stalled_since >= timeout

    def cut_off(self) -> None:
        """The client stopped reading: drop what is queued and close it (4408, resume by
        seq). Behind Daphne its kernel buffer is full, so a close frame could not reach it:
        the connection is aborted instead."""
        logger.info("room %s: socket too slow, cut off (%d)", self.code, CLOSE_TOO_SLOW)
        if self.wire is not None and not self.closed:
            self.wire.abort()
            self._detach(CLOSE_TOO_SLOW)
            return
        self.close(CLOSE_TOO_SLOW)

    def close(self, code: int) -> None:
        """Close with `code` after what is already handed over; nothing is sent after it."""
        if self.closed:
            return
        message = {"type": "websocket.close", "code": code}
        if self.writer is not None:
            # Still waiting on the server: what is queued is stale, the client resumes by seq.
            self.pending.clear()
            self.pending_bytes = 0
            self.pending.append(message)
        else:
            self._write(message)
        self._detach(code)

    def _detach(self, code: int | None = None) -> None:
        self.closed = True
        self.buffer = []
        if self.on_close is not None:
            on_close, self.on_close = self.on_close, None
            on_close(self, code)
