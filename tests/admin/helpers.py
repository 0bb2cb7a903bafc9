"""What the admin tests share: URLs and the room change form as a browser posts it."""

import datetime as dt

from django.test import Client
from django.utils import timezone

from rooms.models import Membership, Room


def change_url(room: Room) -> str:
    return f"/admin/rooms/room/{room.pk}/change/"


def local_parts(value: dt.datetime | None) -> tuple[str, str]:
    if value is None:
        return "", ""
    local = timezone.localtime(value)
    return local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")


def room_form_data(room: Room, members: dict | None = None, **overrides) -> dict:
    """The change form as a browser would post it, with the members inline; `members`
    maps a membership to the inline fields to change."""
    room.refresh_from_db()
    date, time = local_parts(room.expires_at)
    data = {
        "name": room.name,
        "announcement": room.announcement,
        "expires_at_0": date,
        "expires_at_1": time,
        "latitude": "" if room.latitude is None else str(room.latitude),
        "longitude": "" if room.longitude is None else str(room.longitude),
        "radius_m": "" if room.radius_m is None else str(room.radius_m),
        "slow_mode_seconds": str(room.slow_mode_seconds),
        "posting": room.posting,
    }
    rows = list(Membership.objects.filter(room=room).order_by("joined_at", "id"))
    data.update(
        {
            "memberships-TOTAL_FORMS": str(len(rows)),
            "memberships-INITIAL_FORMS": str(len(rows)),
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "0",
        }
    )
    for index, membership in enumerate(rows):
        fields = {
            "id": str(membership.pk),
            "room": str(room.pk),
            "display_name": membership.display_name,
            "role": membership.role,
        }
        if membership.banned:
            fields["banned"] = "on"
        fields.update((members or {}).get(membership, {}))
        for key, value in fields.items():
            if value is not None:
                data[f"memberships-{index}-{key}"] = value
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client
