"""Small helpers tests share (factories make rows; these do the rest)."""

import datetime as dt
import io

from django.core.management import call_command
from django.utils import timezone

from rooms.models import Room


def run_command(*args) -> str:
    """Run a management command and return what it printed."""
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def expire(room: Room, ago: dt.timedelta = dt.timedelta(seconds=1)) -> Room:
    """Move a room's expiry into the past (by `ago`)."""
    Room.objects.filter(pk=room.pk).update(expires_at=timezone.now() - ago)
    room.refresh_from_db()
    return room
