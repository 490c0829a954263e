"""Fill the stored call tallies of the campaigns that exist, from their calls (dialer.tallies keeps
them from here on). Written out rather than imported from dialer.tallies: a migration must keep
doing what it did when it was written. Run it with the workers stopped, as every migration."""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import migrations
from django.db.models import Count
from django.db.models.functions import TruncDate

ACCEPTED = ("placed", "accepted_unknown")


def fill(apps, schema_editor):
    Call = apps.get_model("dialer", "Call")
    CallTally = apps.get_model("dialer", "CallTally")
    AcceptedTally = apps.get_model("dialer", "AcceptedTally")
    calls = Call.objects.using(schema_editor.connection.alias).order_by()
    CallTally.objects.bulk_create(
        CallTally(campaign_id=campaign_id, state=state, shard=0, n=n)
        for campaign_id, state, n in calls.values_list("campaign_id", "state").annotate(n=Count("id"))
    )
    by_day = (
        calls.filter(state__in=ACCEPTED)
        .annotate(day=TruncDate("updated_at", tzinfo=ZoneInfo(settings.PHONON_TIMEZONE)))
        .values_list("campaign_id", "day")
        .annotate(n=Count("id"))
    )
    AcceptedTally.objects.bulk_create(
        AcceptedTally(campaign_id=campaign_id, day=day, shard=0, n=n) for campaign_id, day, n in by_day
    )


def empty(apps, schema_editor):
    apps.get_model("dialer", "CallTally").objects.all().delete()
    apps.get_model("dialer", "AcceptedTally").objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ("dialer", "0003_call_tallies"),
    ]

    operations = [migrations.RunPython(fill, empty)]
