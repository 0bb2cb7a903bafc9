"""The one module that reaches inside Daphne, Twisted and autobahn: the server fast path.

Why: Daphne completes every ASGI send at once, autobahn frames the text, and Twisted
registers the socket for writing and sends on the next loop turn. Per frame and per socket
that is two epoll updates, a send and some fifty Python calls, which caps one process far
below a keynote hall's 20,000–60,000 frames per second. Here the hub writes the frame
bytes — built once per event, shared by every socket — straight to the TCP socket when
nothing is buffered ahead of them, and otherwise appends them to Twisted's buffer, so
order is kept either way. (autobahn's public `prepareMessage`/`sendPreparedMessage` also
frame once for many sockets, but still pay Twisted's write scheduling per socket;
`HUILIAO_WS_WRITE=prepared` selects it so `bench/fanout.py` can measure the two side by
side: docs/live.md has the figures.)

It also bounds what a socket may hold for a client that does not read: Daphne buffers
without limit, and the kernel's send buffer auto-tunes up to megabytes. The kernel buffer
of each socket is capped (`KERNEL_SEND_BUFFER`), and `backlog()` counts Twisted's buffer,
so the hub's byte limit is the real one.

Verified with daphne 4.2.3, Twisted 26.10.0 and autobahn 26.10.2 (pyproject's upper bounds
stop at the next versions; tests/live/test_fastpath.py fails if the path is lost). Private or
undocumented things read here, and nowhere else in the project:
- Daphne: the ASGI `send` it hands an application is `functools.partial(Server.handle_reply,
  protocol)`, so `send.args[0]` is the connection's protocol object.
- autobahn `WebSocketServerProtocol`: `state`, `STATE_OPEN`, `_perMessageCompress` (None
  unless permessage-deflate was negotiated), `transport`, `factory.prepareMessage` and
  `sendPreparedMessage` (public).
- Twisted `tcp.Server` (`abstract.FileDescriptor`): `socket`, `dataBuffer`, `offset`,
  `_tempDataLen`, `connected`, `disconnecting`, and the public `write`, `abortConnection`.
When any of them is missing, `ServerWire.find` returns None, the hub falls back to the
plain ASGI send (bounded by its own queue) and `fast_path_status()` says so at start-up.
"""

import fcntl
import functools
import logging
import os
import socket as socket_module
import struct
from collections.abc import Awaitable, Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

logger = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]

# The kernel doubles SO_SNDBUF for its bookkeeping: each socket then holds at most ~64 KB
# of frames in the kernel, plenty for a room's stream (a busy room sends ~7 KB/s).
KERNEL_SEND_BUFFER = 32 * 1024
# Bytes the kernel has not yet sent (Linux SIOCOUTQNSD): above zero only while the client's
# receive window is full, i.e. it is not reading.
SIOCOUTQNSD = 0x894B

WRITE_DIRECT = "direct"
WRITE_PREPARED = "prepared"

# What a write came to (ServerWire.write).
WRITTEN = 0  # handed to the kernel, or queued behind what Twisted already holds
OVER = 1  # not written: more than the allowed bytes wait already (the client is not reading)
GONE = 2  # not written: the connection is closing (Daphne reports the disconnect)


def write_mode() -> str:
    mode = os.environ.get("HUILIAO_WS_WRITE", WRITE_DIRECT)
    return mode if mode in {WRITE_DIRECT, WRITE_PREPARED} else WRITE_DIRECT


def frame_bytes(message: dict[str, Any]) -> bytes:
    """A `websocket.send` text message's frame bytes, built once and kept on the message
    (every socket of a fan-out shares them)."""
    data = message.get("_wire")
    if data is None:
        data = message["_wire"] = wire_frame(message["text"])
    return data


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


class ServerWire:
    """Direct access to one Daphne websocket's TCP transport."""

    __slots__ = ("protocol", "transport", "mode")

    def __init__(self, protocol: Any, transport: Any, mode: str) -> None:
        self.protocol = protocol
        self.transport = transport
        self.mode = mode

    @classmethod
    def find(cls, send: Send) -> "ServerWire | None":
        protocol = send.args[0] if isinstance(send, functools.partial) and send.args else None
        transport = getattr(protocol, "transport", None)
        if (
            transport is None
            or getattr(protocol, "_perMessageCompress", True) is not None
            or not hasattr(protocol, "STATE_OPEN")
            or not all(
                hasattr(transport, name)
                for name in ("socket", "dataBuffer", "offset", "_tempDataLen", "abortConnection")
            )
        ):
            return None
        wire = cls(protocol, transport, write_mode())
        wire._cap_kernel_buffer()
        return wire

    def _cap_kernel_buffer(self) -> None:
        try:
            self.transport.socket.setsockopt(
                socket_module.SOL_SOCKET, socket_module.SO_SNDBUF, KERNEL_SEND_BUFFER
            )
        except OSError:
            pass  # the connection is already going: Daphne reports the disconnect

    def backlog(self) -> int:
        """Bytes Twisted holds because the kernel would not take them (its buffer is full:
        the client is not reading fast enough)."""
        transport = self.transport
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen

    def unsent_in_kernel(self) -> int:
        try:
            raw = fcntl.ioctl(self.transport.socket.fileno(), SIOCOUTQNSD, b"\0\0\0\0")
        except (OSError, ValueError):
            return 0
        return struct.unpack("i", raw)[0]

    def is_open(self) -> bool:
        protocol, transport = self.protocol, self.transport
        return (
            protocol.state == protocol.STATE_OPEN
            and transport.connected
            and not transport.disconnecting
        )

    def write(self, message: dict[str, Any], room: int) -> int:
        """Write a `websocket.send` text message after what is buffered, unless more than
        `room` bytes wait already: WRITTEN, OVER or GONE."""
        if self.mode == WRITE_PREPARED:
            if not self.is_open():
                return GONE
            if self.backlog() > room:
                return OVER
            prepared = message.get("_prepared")
            if prepared is None:
                prepared = message["_prepared"] = self.protocol.factory.prepareMessage(
                    message["text"].encode()
                )
            self.protocol.sendPreparedMessage(prepared)
            return WRITTEN
        return self.write_bytes(frame_bytes(message), room)

    def write_bytes(self, data: bytes, room: int) -> int:
        """Write ready-made frame bytes (one frame or several back to back), as `write`.
        The hot loop of a fan-out: one call, no other method calls."""
        protocol, transport = self.protocol, self.transport
        if (
            protocol.state != protocol.STATE_OPEN
            or not transport.connected
            or transport.disconnecting
        ):
            return GONE
        buffered = len(transport.dataBuffer) - transport.offset + transport._tempDataLen
        if buffered:
            if buffered > room:
                return OVER
            transport.write(data)
            return WRITTEN
        try:
            sent = transport.socket.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            return GONE
        if sent < len(data):
            transport.write(data[sent:])
        return WRITTEN

    def abort(self) -> None:
        """Drop the connection and everything queued for it (the client resumes by seq).
        A close frame cannot reach a client whose kernel buffer is full: it would wait
        behind the data the client is not reading."""
        self.transport.abortConnection()


def fast_path_status() -> str:
    """One line for the start-up log: which write path sockets take, and with what."""
    versions = []
    for package in ("daphne", "twisted", "autobahn"):
        try:
            versions.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            versions.append(f"{package} missing")
    mode = write_mode()
    how = (
        "frame bytes written to the TCP socket"
        if mode == WRITE_DIRECT
        else "autobahn sendPreparedMessage"
    )
    return (
        f"live path: {mode} ({how}; kernel send buffer capped at "
        f"{KERNEL_SEND_BUFFER // 1024} KB) for every Daphne socket; {', '.join(versions)}"
    )
