import secrets

from django.db import migrations, models

import flows.models


def give_each_flow_its_token(apps, schema_editor):
    Flow = apps.get_model("flows", "Flow")
    for flow in Flow.objects.filter(report_token=""):
        flow.report_token = secrets.token_urlsafe(24)
        flow.save(update_fields=["report_token"])


class Migration(migrations.Migration):
    dependencies = [
        ("flows", "0004_account_warn_outside_indian_hours"),
    ]

    operations = [
        migrations.AddField(
            model_name="flow",
            name="report_token",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(give_each_flow_its_token, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="flow",
            name="report_token",
            field=models.CharField(
                default=flows.models.new_report_token,
                editable=False,
                max_length=64,
                unique=True,
                help_text="The secret in the flow's delivery-report URL (the provider pushes outcomes to it). "
                "Rotate it when the URL leaked, and give the provider the new one.",
            ),
        ),
    ]
