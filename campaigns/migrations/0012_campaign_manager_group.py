"""The "Campaign manager" group: what a manager needs beyond being one of an account's managers (which
gives the pages of that account): changing the account's do-not-call list. An admin adds a user to
the group and to the account's managers."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Campaign manager"
PERMISSIONS = [("campaigns", "manage_dnc")]


def create_group(apps, schema_editor):
    # On a fresh database the permissions are made after all migrations; make them now.
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)  # unset in a migration's state
        app_config.models_module = models_module or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, codename in PERMISSIONS:
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("campaigns", "0011_campaign_audit_trail_and_attention_dismissals"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
