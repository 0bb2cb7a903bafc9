"""Live events: their exact shapes, and the one way to publish them.

Every frame a client can receive is built here (or, for messages, in history.events) and
published through `publish`, which waits for the surrounding transaction to commit: no
client ever hears of a message, member or announcement that was rolled back.

Published events travel through the channel layer to the room's group. Each process's
room hub (history.hub) is the only subscriber: it encodes the frame once and writes it to
the local sockets. Events whose type starts with "_" are for the hubs, never sent on.
"""

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from rooms.models import Room

logger = logging.getLogger(__name__)

Frame = dict[str, Any]


def group_name(code: str) -> str:
    return f"room.{code}"


def publish(room: Room, frame: Frame) -> None:
    """Send `frame` to every live socket in `room`, once the current transaction commits."""
    code = room.code
    transaction.on_commit(lambda: send_now(code, frame))


def send_now(code: str, frame: Frame) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_name(code), {"type": "room.event", "frame": frame})
    except Exception:
        # Push is an optimisation, the database is the truth: a client that missed this
        # event resumes by seq. Never fail the (already committed) write because of it.
        logger.exception("could not publish %s to room %s", frame.get("type"), code)


def iso_datetime(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def announcement_frame(room: Room) -> Frame:
    return {
        "type": "announcement",
        "announcement": {
            "text": room.announcement,
            "updated_at": iso_datetime(room.announcement_updated_at),
        },
    }


def members_frame(count: int) -> Frame:
    return {"type": "members", "count": count}


def message_hidden_frame(seq: int) -> Frame:
    return {"type": "message_hidden", "seq": seq}


def room_closed_frame() -> Frame:
    return {"type": "room_closed"}


def member_removed_event(user_id) -> Frame:
    """For the hubs only: close this user's sockets in the room (they left or were banned)."""
    return {"type": "_member_removed", "user_id": str(user_id)}
