"""The "Organisers" group: staff in it run their own rooms from the admin.

The admin itself narrows every list to the rooms the organiser owns; these model
permissions only decide which screens and buttons they get. No delete permission:
rooms are closed, members banned and messages hidden, never deleted by hand.
"""

from django.db import migrations

GROUP = "Organisers"
PERMISSIONS = {
    "rooms": {"room": ["add", "change", "view"], "membership": ["change", "view"]},
    "history": {"message": ["change", "view"]},
}


def create_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally made after all migrations (post_migrate); a fresh
    # database needs them now.
    for app_label in PERMISSIONS:
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    wanted = []
    for app_label, models in PERMISSIONS.items():
        for model, actions in models.items():
            for action in actions:
                wanted.append(
                    Permission.objects.get(
                        content_type__app_label=app_label, codename=f"{action}_{model}"
                    )
                )
    group.permissions.add(*wanted)


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("rooms", "0001_initial"),
        ("history", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_group, delete_group)]
