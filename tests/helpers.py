"""Small helpers tests share (factories make rows; these do the rest)."""

import datetime as dt
import io
import os

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from history.models import Message
from rooms.models import Membership, Room


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


def expected_payload(message: Message, display_name: str | None = None) -> dict:
    """The exact payload of a stored message (spelled out here, not built by the code under
    test): REST responses carry it, and the socket's `message` frame wraps it."""
    message.refresh_from_db()
    sender = None
    if message.sender_id is not None and message.kind == Message.Kind.TEXT:
        row = Membership.objects.get(room_id=message.room_id, user_id=message.sender_id)
        sender = {
            "member_id": row.member_id,
            "display_name": display_name,
            "avatar": row.avatar,
            "avatar_url": f"/static/huiliao/avatars/{row.avatar}.svg",
            "role": row.role,
        }
    return {
        "seq": message.seq,
        "client_id": message.client_id,
        "sender": sender,
        "kind": str(message.kind),
        "event": message.event or None,
        "body": "" if message.hidden or message.recalled_at else message.body,
        "hidden": message.hidden,
        "review": str(message.review),
        "recalled": message.recalled_at is not None,
        "reply_to": message.reply_to,
        "mentions": message.mentions or [],
        "created_at": message.created_at.isoformat().replace("+00:00", "Z"),
    }


def expected_message_frame(message: Message, display_name: str | None = None) -> dict:
    return {"type": "message", "message": expected_payload(message, display_name)}


REQUIRE_SERVICES = os.environ.get("HUILIAO_REQUIRE_SERVICES", "").strip() in {"1", "true", "yes"}


def missing_service(reason: str):
    """Skip on a laptop, fail in CI: a skipped test is not a passed one."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (HUILIAO_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def api_client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        from accounts.services import token_for

        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user=user)}")
    return client


def throttle_rates(settings, **rates: str) -> None:
    """Override some of DRF's throttle rates for one test (throttles read them live)."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }
