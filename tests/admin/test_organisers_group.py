import importlib

from django.apps import apps
from django.contrib.auth.models import Group


def test_organisers_group_migration_grants_exactly_the_organiser_permissions(db):
    Group.objects.filter(name="Organisers").delete()
    migration = importlib.import_module("accounts.migrations.0002_organisers_group")
    migration.create_group(apps, None)
    migration.create_group(apps, None)  # running it again changes nothing
    group = Group.objects.get(name="Organisers")
    assert sorted(group.permissions.values_list("content_type__app_label", "codename")) == [
        ("history", "change_message"),
        ("history", "view_message"),
        ("rooms", "add_room"),
        ("rooms", "change_membership"),
        ("rooms", "change_room"),
        ("rooms", "view_membership"),
        ("rooms", "view_room"),
    ]
    migration.delete_group(apps, None)
    assert not Group.objects.filter(name="Organisers").exists()
