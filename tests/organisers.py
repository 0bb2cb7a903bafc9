import importlib

from django.apps import apps
from django.contrib.auth.models import Group


def organisers_group() -> Group:
    """The group migration 0002 makes. Transactional tests empty every table when they
    end, so it is made again here with the migration's own function when missing."""
    group = Group.objects.filter(name="Organisers").first()
    if group is None:
        migration = importlib.import_module("accounts.migrations.0002_organisers_group")
        migration.create_group(apps, None)
        moderation = importlib.import_module("rooms.migrations.0005_organisers_moderation")
        moderation.grant(apps, None)
        group = Group.objects.get(name="Organisers")
    return group
