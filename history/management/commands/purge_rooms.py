"""Delete the history of rooms closed (or expired) long ago: their messages and members.

The room rows stay (a stale link still answers "this room has been closed", and the
owner's list still shows it). history.services.room_history_purge deletes in short
batches, so the site keeps serving while a room of a million messages goes.
"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from history import selectors, services


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
        cutoff = timezone.now() - dt.timedelta(days=older_than)
        totals = selectors.PurgeCounts()
        for room in selectors.rooms_ended_before(cutoff).iterator(chunk_size=500):
            if dry_run:
                counts = selectors.room_history_counts(room=room)
                if counts.messages or counts.members:
                    self.stdout.write(
                        f"would purge {room.code}: {counts.messages} messages, "
                        f"{counts.members} members"
                    )
                    totals.add(counts)
                continue
            counts = services.room_history_purge(
                room=room, batch=batch, on_batch=self._batch_logger(options["verbosity"], room)
            )
            if counts.messages or counts.members:
                totals.add(counts)
                self.stdout.write(
                    f"purged {room.code}: {counts.messages} messages, {counts.members} members"
                )
            else:
                totals.batches += counts.batches
        if dry_run:
            self.stdout.write(
                f"would purge {totals.rooms} room(s): {totals.messages} messages, "
                f"{totals.members} members"
            )
        else:
            self.stdout.write(
                f"purged {totals.rooms} room(s): {totals.messages} messages, "
                f"{totals.members} members in {totals.batches} batches"
            )

    def _batch_logger(self, verbosity: int, room):
        if verbosity < 2:
            return None

        def log(low: int, high: int, deleted: int) -> None:
            self.stdout.write(f"  {room.code}: messages seq {low}..{high}: {deleted}")

        return log
