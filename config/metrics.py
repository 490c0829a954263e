"""`/metrics` for Prometheus, computed at scrape time from the database and Redis.

Nothing is counted in process memory: web, workers and beat run as many processes on many
machines, and every one of them writes to the same PostgreSQL and Redis, so a scrape of any web
process sees the whole deployment. It names every account's flows, so access is `Authorization: Bearer
<METRICS_TOKEN>` (Prometheus, when that setting is set) or the login of someone who sees every account
(superuser or campaigns.manage_all_accounts); being staff is not enough.
"""

import hmac
import logging

import redis
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from campaigns.models import Campaign, ContactList
from config import heartbeats
from dialer.metrics import limiter_waits
from dialer.models import Batch, BatchAttempt, Call, CallTally
from flows.account_scope import sees_all_accounts

# Upper bounds of the batch send latency buckets, in milliseconds.
LATENCY_BUCKETS_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)

log = logging.getLogger(__name__)


class PhononCollector:
    def collect(self):
        yield from self.collect_database()
        yield from self.collect_redis()

    def collect_database(self):
        # From the stored tallies (dialer.tallies): a scrape every few seconds must not count millions
        # of calls.
        calls = GaugeMetricFamily("phonon_calls", "Calls by flow and state.", labels=["flow_id", "state"])
        rows = (
            CallTally.objects.order_by()
            .values_list("campaign__flow__flow_id", "state")
            .annotate(n=Sum("n"))
        )
        for flow_id, state, n in rows:
            calls.add_metric([flow_id, state], n)
        yield calls

        # The rejected calls by the provider's code: read through the (campaign, state) index, only
        # in the campaigns whose tallies hold rejected calls.
        rejected_in = (
            CallTally.objects.filter(state=Call.State.REJECTED).exclude(n=0).values_list("campaign_id", flat=True)
            .distinct()
        )
        rejected = GaugeMetricFamily(
            "phonon_rejected_calls", "Rejected calls by flow and provider code.", labels=["flow_id", "provider_code"]
        )
        rows = (
            Call.objects.filter(campaign_id__in=list(rejected_in), state=Call.State.REJECTED).order_by()
            .values_list("campaign__flow__flow_id", "provider_code")
            .annotate(n=Count("pk"))
        )
        for flow_id, code, n in rows:
            rejected.add_metric([flow_id, "" if code is None else str(code)], n)
        yield rejected

        campaigns = GaugeMetricFamily("phonon_campaigns", "Campaigns by status.", labels=["status"])
        for status, n in Campaign.objects.order_by().values_list("status").annotate(n=Count("pk")):
            campaigns.add_metric([status], n)
        yield campaigns

        batches = GaugeMetricFamily("phonon_batches", "Batches by status and endpoint.", labels=["status", "endpoint"])
        for status, endpoint, n in Batch.objects.order_by().values_list("status", "endpoint").annotate(n=Count("pk")):
            batches.add_metric([status, endpoint], n)
        yield batches

        buckets = {f"le_{bound}": Count("pk", filter=Q(duration_ms__lte=bound)) for bound in LATENCY_BUCKETS_MS}
        latency = BatchAttempt.objects.aggregate(count=Count("pk"), total_ms=Sum("duration_ms"), **buckets)
        yield HistogramMetricFamily(
            "phonon_batch_send_duration_seconds",
            "Time of each request to the provider (one per batch attempt).",
            buckets=[(str(bound / 1000), latency[f"le_{bound}"]) for bound in LATENCY_BUCKETS_MS]
            + [("+Inf", latency["count"])],
            sum_value=(latency["total_ms"] or 0) / 1000,
        )

        imported = ContactList.objects.aggregate(imported=Sum("imported_count"), rejected=Sum("rejected_count"))
        import_rows = CounterMetricFamily("phonon_import_rows", "Rows of imported call lists.", labels=["result"])
        import_rows.add_metric(["imported"], imported["imported"] or 0)
        import_rows.add_metric(["rejected"], imported["rejected"] or 0)
        yield import_rows

    def collect_redis(self):
        up = GaugeMetricFamily("phonon_redis_up", "1 when Redis answered this scrape.")
        try:
            waits = limiter_waits()
            workers, beat = heartbeats.workers_alive(), heartbeats.beat_alive()
        except redis.RedisError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        count = CounterMetricFamily("phonon_limiter_waits", "Waits for a rate-limit grant.", labels=["endpoint"])
        seconds = CounterMetricFamily(
            "phonon_limiter_wait_seconds", "Time spent waiting for rate-limit grants.", labels=["endpoint"]
        )
        for endpoint, fields in sorted(waits.items()):
            count.add_metric([endpoint], int(fields.get(b"count", 0)))
            seconds.add_metric([endpoint], float(fields.get(b"seconds", 0)))
        yield count
        yield seconds
        yield GaugeMetricFamily("phonon_workers_alive", "Workers with a fresh heartbeat.", value=workers)
        yield GaugeMetricFamily("phonon_beat_alive", "1 when beat's heartbeat is fresh.", value=int(beat))


registry = CollectorRegistry(auto_describe=False)
registry.register(PhononCollector())


def _allowed(request: HttpRequest) -> bool:
    if request.user.is_authenticated and sees_all_accounts(request.user):
        return True
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@login_not_required
@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        response = HttpResponse("A metrics token (or a login that sees every account) is required.\n", status=401,
                                content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
