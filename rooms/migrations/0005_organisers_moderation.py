"""What organisers get of moderation in the admin: the log and reports of their rooms to
read (reports settled through their actions), and their rooms' content rules to edit. The
admin narrows each list to rooms they own; global rules stay with superusers."""

from django.db import migrations

GROUP = "Organisers"
PERMISSIONS = {
    "rooms": {
        "moderationaction": ["view"],
        "report": ["view", "change"],
        "contentrule": ["add", "change", "delete", "view"],
    }
}


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("rooms")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, models in PERMISSIONS.items():
        for model, actions in models.items():
            for action in actions:
                group.permissions.add(
                    Permission.objects.get(
                        content_type__app_label=app_label, codename=f"{action}_{model}"
                    )
                )


class Migration(migrations.Migration):
    dependencies = [
        ("rooms", "0004_moderation"),
        ("accounts", "0002_organisers_group"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
