from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("dialer", "0004_fill_call_tallies"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="batchattempt",
            index=models.Index(fields=["created_at"], name="batch_attempt_created_idx"),
        ),
    ]
