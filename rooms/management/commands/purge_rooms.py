"""Delete the history of rooms closed (or expired) long ago: their messages and members.

The room rows stay (a stale link still answers "this room has been closed", and the
owner's list still shows it). Messages go in seq ranges of --batch, each range in its
own short transaction, so a room of a million messages never holds one long
transaction or one huge lock while the site keeps serving.
"""

import datetime as dt

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from rooms.models import Membership, Room


class Command(BaseCommand):
    help = "Delete messages and members of rooms closed or expired more than DAYS ago."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, required=True, metavar="DAYS")
        parser.add_argument("--batch", type=int, default=5000, help="rows per transaction (5000)")
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would go; delete nothing."
        )

    def handle(self, *args, older_than: int, batch: int, dry_run: bool = False, **options):
        if older_than < 0:
            raise CommandError("--older-than must be 0 or more days.")
        if batch < 1:
            raise CommandError("--batch must be at least 1.")
        # Looked up by name: rooms must not import history (history depends on rooms).
        Message = apps.get_model("history", "Message")
        cutoff = timezone.now() - dt.timedelta(days=older_than)
        # Rooms that expired that long ago count too, even if expire_rooms never ran:
        # an expired room is as read-only as a closed one.
        rooms = Room.objects.filter(
            Q(closed_at__lt=cutoff) | Q(closed_at__isnull=True, expires_at__lt=cutoff)
        ).order_by("id")
        totals = {"rooms": 0, "messages": 0, "members": 0, "batches": 0}
        for room in rooms.iterator(chunk_size=500):
            messages = Message.objects.filter(room=room)
            members = Membership.objects.filter(room=room)
            if dry_run:
                counts = (messages.count(), members.count())
                if any(counts):
                    self.stdout.write(
                        f"would purge {room.code}: {counts[0]} messages, {counts[1]} members"
                    )
                    totals["rooms"] += 1
                    totals["messages"] += counts[0]
                    totals["members"] += counts[1]
                continue
            bounds = messages.aggregate(first=Min("seq"), last=Max("seq"))
            purged_messages = purged_members = 0
            if bounds["first"] is not None:
                for low in range(bounds["first"], bounds["last"] + 1, batch):
                    with transaction.atomic():
                        deleted, _ = messages.filter(seq__gte=low, seq__lt=low + batch).delete()
                    purged_messages += deleted
                    totals["batches"] += 1
                    if options["verbosity"] >= 2:
                        self.stdout.write(
                            f"  {room.code}: messages seq {low}..{low + batch - 1}: {deleted}"
                        )
            while True:
                with transaction.atomic():
                    ids = list(members.order_by("id").values_list("id", flat=True)[:batch])
                    if not ids:
                        break
                    deleted, _ = Membership.objects.filter(id__in=ids).delete()
                purged_members += deleted
                totals["batches"] += 1
            if purged_messages or purged_members:
                totals["rooms"] += 1
                totals["messages"] += purged_messages
                totals["members"] += purged_members
                self.stdout.write(
                    f"purged {room.code}: {purged_messages} messages, {purged_members} members"
                )
        if dry_run:
            self.stdout.write(
                f"would purge {totals['rooms']} room(s): {totals['messages']} messages, "
                f"{totals['members']} members"
            )
        else:
            self.stdout.write(
                f"purged {totals['rooms']} room(s): {totals['messages']} messages, "
                f"{totals['members']} members in {totals['batches']} batches"
            )
