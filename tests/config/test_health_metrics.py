"""/health (database, Redis, worker and beat heartbeats) and /metrics (Prometheus, from the
database and Redis at scrape time)."""

from types import SimpleNamespace

import pytest
import redis
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from prometheus_client.parser import text_string_to_metric_families

from campaigns.models import Campaign, Contact
from config import heartbeats
from dialer.metrics import record_limiter_wait
from dialer.models import Batch, BatchAttempt, Call
from dialer.tallies import calls_recount
from tests.factories import make_contact_list, make_flow
from tests.processes import Processes, wait_until

METRICS_TOKEN = "metrics-token-for-tests-4b1d"


@pytest.fixture(autouse=True)
def _no_heartbeats(redis_url):
    client = redis.Redis.from_url(redis_url)

    def clear():
        heartbeats.stop_heartbeats()
        for key in client.scan_iter(match="phonon:*"):
            client.delete(key)

    clear()
    yield
    clear()


@pytest.fixture
def alive_worker_and_beat():
    """The signal receivers that a real worker and beat run at start."""
    heartbeats._worker_ready(sender=SimpleNamespace(hostname="worker@machine-a"))
    heartbeats._beat_init(sender=None)


# --- /health ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_health_is_200_without_login_when_database_redis_worker_and_beat_are_alive(client, alive_worker_and_beat):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["failed"] == []
    assert set(body["checks"]) == {"database", "redis", "worker", "beat"}
    assert body["checks"]["worker"] == {"ok": True, "alive": 1}
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_health_is_503_naming_worker_and_beat_when_their_heartbeats_are_missing(client):
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["failed"] == ["beat", "worker"]


@pytest.mark.django_db
def test_health_is_503_naming_redis_and_leaks_no_address_when_redis_is_down(client, settings):
    settings.REDIS_URL = "redis://:hunter2@127.0.0.1:1/0"
    response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert {"redis", "worker", "beat"} <= set(body["failed"]) and "database" not in body["failed"]
    assert body["checks"]["redis"] == {"ok": False, "error": "ConnectionError"}
    assert b"hunter2" not in response.content and b"127.0.0.1" not in response.content


@pytest.mark.django_db
def test_health_only_checks_what_the_load_balancer_asks_for(client):
    response = client.get("/health?only=database,redis")
    assert response.status_code == 200
    assert set(response.json()["checks"]) == {"database", "redis"}


@pytest.mark.django_db
def test_health_answers_any_host_header_so_load_balancers_can_call_it_by_address(client):
    assert client.get("/health?only=database", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.get("/login/", HTTP_HOST="10.1.2.3:8000").status_code == 400


@pytest.mark.django_db
def test_a_heartbeat_expires_without_its_process(settings, redis_url):
    beat = heartbeats.Heartbeat(heartbeats.BEAT_KEY, ttl=1)
    beat.beat()
    assert heartbeats.beat_alive()
    assert 0 < redis.Redis.from_url(redis_url).pttl(heartbeats.BEAT_KEY) <= 1000


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_real_worker_and_beat_processes_make_health_ok(client, artifacts_dir):
    # given no worker and no beat, health fails
    assert client.get("/health").status_code == 503

    # when a real worker and beat start
    processes = Processes(workers=1, beat=True, log_dir=artifacts_dir / "health-logs").start()
    try:
        # then their heartbeats turn health green
        wait_until(lambda: client.get("/health").status_code == 200, timeout=30, message="health to turn ok")
    finally:
        processes.stop()
    # and a worker that stops cleanly takes its heartbeat with it
    assert heartbeats.workers_alive() == 0


# --- /metrics ---------------------------------------------------------------------------------


def samples(text: str) -> dict:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def staff(db):
    """A supervisor: staff who sees every account (the metrics name every account's flows)."""
    user = get_user_model().objects.create_user("alice", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="manage_all_accounts"))
    return user


@pytest.mark.django_db
def test_metrics_needs_the_token_or_a_login_that_sees_every_account(client, settings, staff):
    settings.METRICS_TOKEN = METRICS_TOKEN
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}").status_code == 200
    bob = get_user_model().objects.create_user("bob", password="pw")
    client.force_login(bob)
    assert client.get("/metrics").status_code == 401
    # staff alone (a manager of one account, say) does not see the other accounts' flows
    carol = get_user_model().objects.create_user("carol", password="pw", is_staff=True)
    client.force_login(carol)
    assert client.get("/metrics").status_code == 401
    client.force_login(staff)
    assert client.get("/metrics").status_code == 200


@pytest.mark.django_db
def test_metrics_without_a_token_setting_accept_no_bearer(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


@pytest.mark.django_db
def test_metrics_count_calls_batches_latency_imports_and_limiter_waits(client, staff, alive_worker_and_beat):
    # given a campaign with calls in several states, batches and timed attempts
    flow = make_flow(flow_id="FLOWAAAA")
    contact_list = make_contact_list(flow, 4)
    contact_list.rejected_count = 2
    contact_list.save()
    campaign = Campaign.objects.create(name="c", contact_list=contact_list, flow=flow, token="tok", status="running")
    batch = Batch.objects.create(campaign=campaign, sequence=1, endpoint="realtime", call_count=2, status="placed")
    Batch.objects.create(campaign=campaign, sequence=2, endpoint="realtime", call_count=2, status="queued")
    states = [("placed", 200), ("placed", 200), ("rejected", 211), ("pending", None)]
    for (state, code), contact in zip(states, Contact.objects.order_by("line")):
        Call.objects.create(campaign=campaign, contact=contact, client_identifier=f"tok-{contact.line}", state=state,
                            provider_code=code, batch=batch)
    calls_recount()  # calls written here directly: their stored tallies rebuilt, as `recount_calls` would
    for number, duration_ms in enumerate([80, 300, 4000], start=1):
        BatchAttempt.objects.create(batch=batch, number=number, outcome="answered", duration_ms=duration_ms)
    # and two waits for a grant recorded by workers
    record_limiter_wait("realtime", 1.5)
    record_limiter_wait("realtime", 0.25)

    # when Prometheus scrapes
    client.force_login(staff)
    response = client.get("/metrics")

    # then every figure comes from the database and Redis
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    got = samples(response.content.decode())
    flow_labels = (("flow_id", "FLOWAAAA"),)
    assert got[("phonon_calls", (*flow_labels, ("state", "placed")))] == 2
    assert got[("phonon_calls", (*flow_labels, ("state", "rejected")))] == 1
    assert got[("phonon_calls", (*flow_labels, ("state", "pending")))] == 1
    assert got[("phonon_rejected_calls", (*flow_labels, ("provider_code", "211")))] == 1
    assert got[("phonon_batches", (("endpoint", "realtime"), ("status", "placed")))] == 1
    assert got[("phonon_batches", (("endpoint", "realtime"), ("status", "queued")))] == 1
    assert got[("phonon_campaigns", (("status", "running"),))] == 1
    assert got[("phonon_batch_send_duration_seconds_count", ())] == 3
    assert got[("phonon_batch_send_duration_seconds_sum", ())] == pytest.approx(4.38)
    assert got[("phonon_batch_send_duration_seconds_bucket", (("le", "0.1"),))] == 1
    assert got[("phonon_batch_send_duration_seconds_bucket", (("le", "0.5"),))] == 2
    assert got[("phonon_batch_send_duration_seconds_bucket", (("le", "5.0"),))] == 3
    assert got[("phonon_batch_send_duration_seconds_bucket", (("le", "+Inf"),))] == 3
    assert got[("phonon_import_rows_total", (("result", "imported"),))] == 4
    assert got[("phonon_import_rows_total", (("result", "rejected"),))] == 2
    assert got[("phonon_limiter_waits_total", (("endpoint", "realtime"),))] == 2
    assert got[("phonon_limiter_wait_seconds_total", (("endpoint", "realtime"),))] == pytest.approx(1.75)
    assert got[("phonon_workers_alive", ())] == 1
    assert got[("phonon_beat_alive", ())] == 1
    assert got[("phonon_redis_up", ())] == 1


@pytest.mark.django_db
def test_metrics_still_answer_when_redis_is_down(client, staff, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    record_limiter_wait("bulk", 1.0)  # never raises
    client.force_login(staff)
    response = client.get("/metrics")
    assert response.status_code == 200
    got = samples(response.content.decode())
    assert got[("phonon_redis_up", ())] == 0
    assert got[("phonon_batch_send_duration_seconds_count", ())] == 0
