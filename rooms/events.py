"""The one way to publish a live event.

Frames are defined in `rooms.protocol`. `publish` waits for the surrounding transaction to
commit: no client ever hears of a message, member or announcement that was rolled back.
Published messages travel through the channel layer to the room's group. Each process's
room hub (history.live) is the only subscriber: it encodes a frame once and writes it to
the local sockets, and acts on control messages itself.
"""

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from rooms import protocol
from rooms.models import Room

logger = logging.getLogger(__name__)


def group_name(code: str) -> str:
    return f"room.{code}"


def publish(room: Room, frame: protocol.Frame) -> None:
    """Send `frame` to every live socket in `room`, once the current transaction commits."""
    _publish_on_commit(room.code, protocol.layer_event(frame))


def publish_close_member(room: Room, user_id) -> None:
    """Close `user_id`'s sockets in `room` in every process (they left or were banned)."""
    _publish_on_commit(room.code, protocol.layer_close_member(user_id))


def _publish_on_commit(code: str, message: dict[str, Any]) -> None:
    transaction.on_commit(lambda: send_now(code, message))


def send_now(code: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_name(code), message)
    except Exception:
        # Push is an optimisation, the database is the truth: a client that missed this
        # event resumes by seq. Never fail the (already committed) write because of it.
        logger.exception("could not publish %s to room %s", message.get("type"), code)


def announcement_frame(room: Room) -> protocol.Frame:
    return protocol.announcement_frame(
        text=room.announcement, updated_at=room.announcement_updated_at
    )
