from django.db import migrations, models


def number_existing_events(apps, schema_editor):
    Event = apps.get_model("events", "Event")
    last: dict[tuple[str, int | None], int] = {}
    for event in Event.objects.order_by("id").only("id", "payload").iterator():
        key = (str(event.payload.get("object", "")), event.payload.get("id"))
        last[key] = last.get(key, 0) + 1
        Event.objects.filter(pk=event.pk).update(object_type=key[0], object_id=key[1], sequence=last[key])


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial")]

    operations = [
        migrations.AddField(model_name="event", name="object_type", field=models.CharField(blank=True, max_length=16)),
        migrations.AddField(model_name="event", name="object_id", field=models.BigIntegerField(blank=True, null=True)),
        migrations.AddField(model_name="event", name="sequence", field=models.PositiveIntegerField(default=1)),
        migrations.RunPython(number_existing_events, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="event",
            constraint=models.UniqueConstraint(
                fields=("object_type", "object_id", "sequence"), name="event_sequence_per_object"
            ),
        ),
    ]
