"""The one way to publish a live event.

Frames are defined in `rooms.protocol`. `publish` waits for the surrounding transaction to
commit: no client ever hears of a message, member or announcement that was rolled back.
Published messages travel through the channel layer to the room's group. Each process's
room hub (history.live) is the only subscriber: it encodes a frame once and writes it to
the local sockets, and acts on control messages itself.
"""

import asyncio
import concurrent.futures
import logging
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from huiliao_site import metrics
from huiliao_site.logs import FailureLog
from rooms import protocol
from rooms.models import Room

logger = logging.getLogger(__name__)


def group_name(code: str) -> str:
    return f"room.{code}"


def publish(room: Room, frame: protocol.Frame, notice: dict[str, Any] | None = None) -> None:
    """Send `frame` to every live socket in `room`, once the current transaction commits
    (`notice`: a system notice's event and parameters, worded per socket language)."""
    _publish_on_commit(room.code, protocol.layer_event(frame, notice))


def publish_close_member(room: Room, user_id, code: int = protocol.CLOSE_FORBIDDEN) -> None:
    """Close `user_id`'s sockets in `room` in every process (they left or were banned:
    4403; their credentials ended: 4401)."""
    _publish_on_commit(room.code, protocol.layer_close_member(user_id, code))


def publish_to_user(room: Room, user_id, frame: protocol.Frame) -> None:
    """Send `frame` to `user_id`'s sockets in `room` only, once the transaction commits."""
    _publish_on_commit(room.code, protocol.layer_to_user(user_id, frame))


def _publish_on_commit(code: str, message: dict[str, Any]) -> None:
    transaction.on_commit(lambda: send_now(code, message))


# How long a worker thread waits for the server's event loop to hand a message to the
# layer. Bounded, so a thread can never hold up a process that is shutting down.
PUBLISH_WAIT_SECONDS = 5.0
_server_loop: asyncio.AbstractEventLoop | None = None


def bind_server_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    """The server's event loop (huiliao_site.asgi records it on its first connection):
    commits made in worker threads hand their messages to the layer on this loop."""
    global _server_loop
    _server_loop = loop


def send_now(code: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        _group_send(layer, group_name(code), message)
    except Exception as exc:
        # Push is an optimisation, the database is the truth: a client that missed this
        # event resumes by seq. Never fail the (already committed) write because of it.
        publish_failures.failed(exc, what=f"{message.get('type')} to room {code}")
        metrics.LAYER_ERRORS.labels("publish").inc()
    else:
        publish_failures.succeeded()


def _group_send(layer, group: str, message: dict[str, Any]) -> None:
    loop = _server_loop
    if loop is None or loop.is_closed() or _running_in(loop):
        # No server loop (a management command, a test whose loop has ended): a private
        # loop of asgiref's own is safe.
        async_to_sync(layer.group_send)(group, message)
        return
    if not loop.is_running():
        # Stopped, not yet closed: the server is shutting down and would never run it.
        raise RuntimeError("the server is shutting down")
    future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
    deadline = time.monotonic() + PUBLISH_WAIT_SECONDS
    while True:
        try:
            future.result(timeout=0.1)
            return
        except concurrent.futures.TimeoutError:
            if not loop.is_running():  # stopped while we waited: it never will run it
                future.cancel()
                raise RuntimeError("the server is shutting down") from None
            if time.monotonic() >= deadline:
                future.cancel()
                raise TimeoutError(f"the layer took over {PUBLISH_WAIT_SECONDS:g} s") from None


def _running_in(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def layer_ok() -> bool:
    """Whether the channel layer takes a message now (a send to a group nobody is in)."""
    layer = get_channel_layer()
    if layer is None:
        return True
    try:
        _group_send(layer, "huiliao.readyz", {"type": "readyz.check"})
    except Exception:
        return False
    return True


publish_failures = FailureLog(logger, "publishing live events")


def announcement_frame(room: Room) -> protocol.Frame:
    return protocol.announcement_frame(
        text=room.announcement, updated_at=room.announcement_updated_at
    )


def room_updated_frame(room: Room) -> protocol.Frame:
    return protocol.room_updated_frame(
        name=room.name,
        expires_at=room.expires_at,
        slow_mode_seconds=room.slow_mode_seconds,
        posting=room.posting,
    )


def member_updated_frame(membership) -> protocol.Frame:
    return protocol.member_updated_frame(
        member_id=membership.member_id,
        role=membership.role,
        muted_until=membership.muted_until,
        banned=membership.banned,
    )
