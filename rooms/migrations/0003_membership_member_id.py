import secrets
import unicodedata

from django.db import migrations, models

import rooms.models


# Copies of rooms.models.generate_member_id and huiliao_site.text.name_key as they stood when
# this migration was written: a migration must give the same result however they change.
def _member_id() -> str:
    return secrets.token_urlsafe(9)


def _name_key(name: str) -> str:
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    visible = "".join(char for char in folded if unicodedata.category(char) != "Cf")
    return " ".join(visible.split())


def give_members_ids_and_unique_names(apps, schema_editor):
    """Every membership gets its own member_id; two current members of a room whose names
    fold to the same key keep them apart by a number ("Alice", "Alice 2")."""
    Membership = apps.get_model("rooms", "Membership")
    taken: dict[int, set[str]] = {}
    batch = []
    rows = Membership.objects.order_by("room_id", "joined_at", "id")
    for membership in rows.iterator(chunk_size=2000):
        membership.member_id = _member_id()
        current = membership.left_at is None and not membership.banned
        key = _name_key(membership.display_name)
        if current:
            names = taken.setdefault(membership.room_id, set())
            number = 1
            while key in names:
                number += 1
                suffix = f" {number}"
                membership.display_name = membership.display_name[: 32 - len(suffix)] + suffix
                key = _name_key(membership.display_name)
            names.add(key)
        membership.name_key = key
        batch.append(membership)
        if len(batch) >= 2000:
            Membership.objects.bulk_update(batch, ["member_id", "name_key", "display_name"])
            batch = []
    if batch:
        Membership.objects.bulk_update(batch, ["member_id", "name_key", "display_name"])


class Migration(migrations.Migration):
    dependencies = [
        ("rooms", "0002_membership_avatar"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="member_id",
            field=models.CharField(
                default="", editable=False, max_length=12, verbose_name="member id"
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="membership",
            name="name_key",
            field=models.CharField(default="", editable=False, max_length=128),
        ),
        migrations.RunPython(give_members_ids_and_unique_names, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="membership",
            name="member_id",
            field=models.CharField(
                default=rooms.models.generate_member_id,
                editable=False,
                max_length=12,
                verbose_name="member id",
            ),
        ),
        migrations.AddConstraint(
            model_name="membership",
            constraint=models.UniqueConstraint(
                fields=("room", "member_id"), name="membership_unique_room_member_id"
            ),
        ),
        migrations.AddConstraint(
            model_name="membership",
            constraint=models.UniqueConstraint(
                condition=models.Q(("banned", False), ("left_at__isnull", True)),
                fields=("room", "name_key"),
                name="membership_unique_current_name",
            ),
        ),
    ]
