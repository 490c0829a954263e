import django.db.models.deletion
from django.db import migrations, models


def fill_accounts(apps, schema_editor):
    IdempotentRequest = apps.get_model("api", "IdempotentRequest")
    for row in IdempotentRequest.objects.select_related("api_key").iterator():
        IdempotentRequest.objects.filter(pk=row.pk).update(account_id=row.api_key.account_id)


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0002_initial"),
        ("flows", "0001_initial"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="idempotentrequest", name="idempotency_key_once_per_api_key"),
        migrations.AddField(
            model_name="idempotentrequest",
            name="account",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="idempotent_requests",
                to="flows.account",
            ),
        ),
        migrations.RunPython(fill_accounts, migrations.RunPython.noop),
        # Two keys of one account may have used the same Idempotency-Key: keep the oldest answer.
        migrations.RunSQL(
            "DELETE FROM api_idempotentrequest WHERE id NOT IN "
            "(SELECT MIN(id) FROM api_idempotentrequest GROUP BY account_id, key)",
            migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name="idempotentrequest",
            name="account",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="idempotent_requests", to="flows.account"
            ),
        ),
        migrations.AddConstraint(
            model_name="idempotentrequest",
            constraint=models.UniqueConstraint(fields=("account", "key"), name="idempotency_key_once_per_account"),
        ),
    ]
