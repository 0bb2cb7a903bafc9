"""Close every room whose expiry has passed. Run it every minute or so (cron or a systemd
timer, see the organisers' guide); it is idempotent, so overlapping runs are harmless."""

from django.core.management.base import BaseCommand

from rooms import services
from rooms.models import Room


class Command(BaseCommand):
    help = "Close rooms past their expiry (pushes room_closed to their live sockets)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List the rooms that would close; change nothing.",
        )

    def handle(self, *args, dry_run: bool = False, **options):
        due = Room.objects.expired_unclosed().order_by("expires_at", "id")
        closed = 0
        for room in due.iterator(chunk_size=500):
            when = room.expires_at.isoformat()
            if dry_run:
                self.stdout.write(f"would close {room.code} {room.name!r} (expired {when})")
                closed += 1
            elif services.room_close(room=room, actor=None):
                # room_close commits, then publishes: its sockets get room_closed now.
                self.stdout.write(f"closed {room.code} {room.name!r} (expired {when})")
                closed += 1
        verb = "would close" if dry_run else "closed"
        self.stdout.write(f"{verb} {closed} room(s)")
