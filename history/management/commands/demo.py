"""A first look without a shell session of one's own: an organiser account, an open room
with a few messages, and the links to try. Running it again reuses all of it."""

import datetime as dt
import secrets

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from history import services as history_services
from rooms import qr, services
from rooms.models import Room

ORGANISER = "organiser"
GROUP = "Organisers"
ROOM_NAME = "Huiliao demo · 会聊演示"
ANNOUNCEMENT = "Welcome! Wi-Fi: Huiliao-Guest · 欢迎！茶歇 15:30 在二楼。"
GUESTS = [
    ("demo-guest-ann", "Ann", "Hello everyone, is the keynote in hall A?"),
    ("demo-guest-li", "小李", "是的，在 A 厅，九点开始。"),
    ("demo-guest-ann", "Ann", "Thanks!"),
]


class Command(BaseCommand):
    help = "Create a demo organiser, an open room with a few messages, and print the links."

    def add_arguments(self, parser):
        parser.add_argument("--username", default=ORGANISER)
        parser.add_argument(
            "--reset-password",
            action="store_true",
            help="Give an existing demo organiser a new password (and print it).",
        )

    def handle(self, *args, username: str, reset_password: bool = False, **options):
        with transaction.atomic():
            organiser, created = User.objects.get_or_create(
                username=username,
                defaults={"nickname": "Demo organiser", "kind": User.Kind.STAFF, "is_staff": True},
            )
            password = None
            if created or reset_password:
                password = secrets.token_urlsafe(12)
                organiser.set_password(password)
            organiser.is_staff = True
            organiser.is_active = True
            organiser.save()
            group = Group.objects.filter(name=GROUP).first()
            if group is None:
                raise CommandError(f'The "{GROUP}" group is missing: run manage.py migrate.')
            organiser.groups.add(group)

        room = (
            Room.objects.open()
            .filter(owner=organiser, name=ROOM_NAME, expires_at__isnull=False)
            .order_by("-created_at")
            .first()
        )
        if room is None:
            days = min(7, settings.HUILIAO_MAX_ROOM_DAYS)
            room = services.room_create(
                owner=organiser,
                name=ROOM_NAME,
                expires_at=timezone.now() + dt.timedelta(days=days) - dt.timedelta(minutes=1),
                announcement=ANNOUNCEMENT,
            )
            for guest_name, display_name, body in GUESTS:
                guest, made = User.objects.get_or_create(
                    username=guest_name,
                    defaults={"nickname": display_name, "kind": User.Kind.GUEST},
                )
                if made:
                    guest.set_unusable_password()  # demo guests never log in
                    guest.save(update_fields=["password"])
                history_services.member_enter(
                    room=room, user=guest, entry=services.Entry(display_name=display_name)
                )
                history_services.message_post(
                    room=room, user=guest, body=body, client_id=secrets.token_hex(8)
                )
            self.stdout.write(f"created room {room.code} {room.name!r}")
        else:
            self.stdout.write(f"room {room.code} {room.name!r} already exists")

        base = qr.public_base_url()
        self.stdout.write(f"organiser login: {base}/admin/  username: {organiser.username}")
        if password:
            self.stdout.write(f"password: {password}")
        else:
            self.stdout.write("password: unchanged (run with --reset-password for a new one)")
        self.stdout.write(f"join URL: {qr.join_url(room)}")
        if settings.HUILIAO_PUBLIC_URL:
            self.stdout.write(f"phones on this network open: {base}/")
        self.stdout.write(f"poster: {base}/r/{room.code}/poster/")
