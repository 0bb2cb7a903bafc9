import hashlib

from django.db import migrations, models

# A copy of rooms.avatars as it stood when this migration was written: a migration must give
# the same result however that module changes later.
AVATAR_KEYS = ("sun", "moon", "star", "leaf", "wave", "cloud", "flower", "mountain")
AVATAR_CHOICES = [(key, key) for key in AVATAR_KEYS]


def _default(room_code: str, user_id) -> str:
    digest = hashlib.sha256(f"{room_code}:{user_id}".encode()).digest()
    return AVATAR_KEYS[int.from_bytes(digest[:8], "big") % len(AVATAR_KEYS)]


def give_existing_members_an_avatar(apps, schema_editor):
    Membership = apps.get_model("rooms", "Membership")
    rows = Membership.objects.filter(avatar="").select_related("room").only("room__code", "user_id")
    batch = []
    for membership in rows.iterator(chunk_size=2000):
        membership.avatar = _default(membership.room.code, membership.user_id)
        batch.append(membership)
        if len(batch) >= 2000:
            Membership.objects.bulk_update(batch, ["avatar"])
            batch = []
    if batch:
        Membership.objects.bulk_update(batch, ["avatar"])


class Migration(migrations.Migration):
    dependencies = [
        ("rooms", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="avatar",
            field=models.CharField(default="", max_length=16, verbose_name="avatar"),
            preserve_default=False,
        ),
        migrations.RunPython(give_existing_members_an_avatar, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="membership",
            name="avatar",
            field=models.CharField(choices=AVATAR_CHOICES, max_length=16, verbose_name="avatar"),
        ),
    ]
