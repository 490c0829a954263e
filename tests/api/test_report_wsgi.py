"""The report URL's lean path (api.report_wsgi, routed by config/wsgi.py): it answers what the Django
view answers, stores before it answers, follows a rotation, and leaves everything else to Django."""

import io
import json
import subprocess
import sys

import pytest
import requests
import yaml
from django.db import connection, connections

from api import report_wsgi
from config.embedded_redis import free_port
from config.wsgi import application, django_application
from dialer.models import Call, OutcomeReport
from flows.models import Flow
from flows.services import flow_report_token_rotate
from tests.dialer.outcome_reports import leg, report
from tests.dialer.test_dispatch import drain, running_campaign
from tests.factories import make_flow
from tests.processes import ROOT, process_env, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def placed(sandbox):
    """A flow with two placed calls, and another flow (of another account) with one."""
    flow = make_flow()
    campaign = running_campaign(flow, 2)
    drain(campaign)
    other = make_flow(flow_id="OtHeR123", client_id="C200002")
    drain(running_campaign(other, 1))
    calls = list(Call.objects.filter(campaign=campaign).order_by("id"))
    assert all(call.phonon_uuid for call in calls)
    theirs = Call.objects.get(campaign__flow=other)
    return flow, calls, theirs


def environ(path, body=b"", *, method="POST", **extra):
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
        **extra,
    }


def post(app, path, body=b"", *, on_answer=None, **extra) -> tuple[int, dict]:
    answered = {}

    def start_response(status, headers, exc_info=None):
        answered["status"] = int(status.split()[0])
        if on_answer:
            on_answer()

    chunks = app(environ(path, body, **extra), start_response)
    content = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return answered["status"], json.loads(content) if content.startswith(b"{") else {}


def url_path(flow) -> str:
    return f"/reports/{Flow.objects.get(pk=flow.pk).report_token}/"


def test_the_lean_path_answers_every_kind_of_body_as_the_view_does(placed, settings):
    flow, calls, theirs = placed
    settings.OUTCOME_REPORT_MAX_BYTES = 2000
    bodies = {
        "a report of the flow's call": report(calls[0].phonon_uuid, leg("a##1", "919800000001", connected=True)),
        "no uuid": b'{"body": {"callDetails": []}}',
        "not JSON": b"not json",
        "too large": b"x" * 5000,
        "another flow's uuid": report(theirs.phonon_uuid, leg("b##1", "919800000002")),
        "a uuid of no call": report("no-such-uuid", leg("c##1", "919800000003")),
    }
    for name, body in bodies.items():
        lean = post(application, url_path(flow), body)
        view = post(django_application, url_path(flow), body)
        lean[1].pop("report", None), view[1].pop("report", None)
        assert lean == view, name
    assert post(application, "/reports/no-such-secret/", b"{}") == post(django_application, "/reports/no-such-secret/")
    settings.OUTCOME_REPORT_ALLOWED_ADDRESSES = ["10.0.0.0/8"]
    assert post(application, url_path(flow), b"{}") == post(django_application, url_path(flow), b"{}")
    # Every body that reached the flow's URL was kept, by both paths alike.
    kept = sorted(OutcomeReport.objects.values_list("status", flat=True))
    assert kept == sorted(["pending", "malformed", "malformed", "oversized", "refused", "unmatched"] * 2)


def test_the_answers_say_what_happened(placed):
    flow, calls, theirs = placed
    assert post(application, url_path(flow), report(calls[0].phonon_uuid, leg("a##1", "91"))) == (
        200,
        {"status": "stored", "report": OutcomeReport.objects.get().pk},
    )
    status, answer = post(application, url_path(flow), b'{"body": {"callDetails": []}}')
    assert status == 400 and "phonon-uuid" in answer["error"]
    status, answer = post(application, url_path(flow), report(theirs.phonon_uuid))
    assert (status, answer["error"]) == (422, "The phonon-uuid is not one of this flow's calls.")
    assert post(application, "/reports/no-such-secret/", b"{}") == (
        404,
        {"error": "No flow has this report URL (it may have been rotated)."},
    )


def test_a_report_is_committed_before_the_200_is_sent(placed):
    flow, calls, _ = placed
    seen_by_another_connection = []

    def count_from_elsewhere():
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute(
                    f"SELECT status FROM {OutcomeReport._meta.db_table} WHERE phonon_uuid = %s", [calls[1].phonon_uuid]
                )
                seen_by_another_connection.extend(row[0] for row in cursor.fetchall())
        finally:
            other.close()

    status, _ = post(
        application, url_path(flow), report(calls[1].phonon_uuid, leg("d##1", "91")), on_answer=count_from_elsewhere
    )
    assert status == 200
    assert seen_by_another_connection == ["pending"]


def test_a_rotated_secret_is_refused_at_once_here_and_soon_in_other_processes(placed, settings):
    flow, calls, _ = placed
    body = report(calls[0].phonon_uuid, leg("e##1", "91"))
    old = url_path(flow)
    assert post(application, old, body)[0] == 200
    flow_report_token_rotate(flow=flow)
    assert post(application, old, body)[0] == 404
    assert post(application, url_path(flow), body)[0] == 200

    # Rotated by another process: this one trusts what it looked up for OUTCOME_REPORT_URL_CACHE_SECONDS.
    settings.OUTCOME_REPORT_URL_CACHE_SECONDS = 0.5
    current = url_path(flow)
    assert post(application, current, body)[0] == 200
    Flow.objects.filter(pk=flow.pk).update(report_token="rotated-elsewhere")
    wait_until(lambda: post(application, current, body)[0] == 404, timeout=30, message="the old URL refused")
    assert post(application, "/reports/rotated-elsewhere/", body)[0] == 200


def test_a_flow_deleted_while_its_secret_is_remembered_is_a_404_not_a_500(placed, settings):
    settings.OUTCOME_REPORT_URL_CACHE_SECONDS = 3600
    unused = make_flow(flow_id="UnUsEd12", client_id="C200003")
    path = url_path(unused)
    body = report("0b7c0e2a-0000-4000-8000-00000000dead", leg("h##1", "91"))
    assert post(application, path, body)[0] == 422  # no call of ours: kept as unmatched
    Flow.objects.filter(pk=unused.pk).delete()
    status, answer = post(application, path, body)
    assert status == 404
    assert "No flow has this report URL" in answer["error"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a SQLite file has no server to restart")
def test_a_connection_lost_since_the_last_report_is_replaced_and_the_report_stored(placed):
    flow, calls, _ = placed
    path = url_path(flow)
    assert post(application, path, report(calls[0].phonon_uuid, leg("f##1", "91")))[0] == 200
    connection.ensure_connection()  # kept between requests (CONN_MAX_AGE), as PostgreSQL's is
    connection.connection.close()  # as a database restart leaves it: Django still thinks it open
    assert post(application, path, report(calls[1].phonon_uuid, leg("g##1", "91")))[0] == 200
    assert OutcomeReport.objects.filter(status="pending").count() == 2


def test_a_body_with_a_nul_byte_is_refused_and_kept(placed):
    flow, _, _ = placed
    status, answer = post(application, url_path(flow), b'{"body": "\x00"}')
    assert status == 400 and "not JSON" in answer["error"]
    kept = OutcomeReport.objects.get()
    assert (kept.status, kept.body) == ("malformed", '{"body": "\ufffd"}')


def test_the_allow_list_reads_the_sender_our_proxy_names(placed, settings):
    flow, calls, _ = placed
    settings.OUTCOME_REPORT_ALLOWED_ADDRESSES = ["10.0.0.0/8"]
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    body = report(calls[0].phonon_uuid, leg("h##1", "91"))
    assert post(application, url_path(flow), body, HTTP_X_FORWARDED_FOR="10.1.2.3")[0] == 200
    assert OutcomeReport.objects.get().remote_addr == "10.1.2.3"
    # A sender reaching the server directly is known by its own address, whatever it writes.
    direct = {"REMOTE_ADDR": "192.0.2.9", "HTTP_X_FORWARDED_FOR": "10.1.2.3"}
    assert post(application, url_path(flow), body, **direct)[0] == 403


def test_requests_the_view_would_not_simply_take_are_left_to_django(placed, settings):
    flow, _, _ = placed
    path = url_path(flow)
    assert report_wsgi.handles(environ(path))
    assert not report_wsgi.handles(environ(path, method="GET"))
    assert not report_wsgi.handles(environ(path.rstrip("/")))
    assert not report_wsgi.handles(environ(path + "more/"))
    assert not report_wsgi.handles(environ(path, HTTP_HOST="evil.example"))
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert not report_wsgi.handles(environ(path))  # Django's redirect to HTTPS
    assert report_wsgi.handles(environ(path, HTTP_X_FORWARDED_PROTO="https"))
    assert post(application, path, method="GET")[0] == 405
    assert post(application, path, b"{}", HTTP_HOST="evil.example")[0] == 400


def test_gunicorn_run_as_the_compose_file_runs_it_stores_reports(placed, tmp_path):
    flow, calls, _ = placed
    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]["command"]
    port = free_port()
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    command[command.index("--workers") + 1] = "1"
    log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", *command], cwd=ROOT, env=process_env(), stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(base), timeout=60, message="gunicorn listening")
        answer = requests.post(base + url_path(flow), data=report(calls[0].phonon_uuid, leg("i##1", "91")), timeout=30)
        assert answer.status_code == 200
        assert OutcomeReport.objects.get(pk=answer.json()["report"]).status == "pending"
        assert requests.post(f"{base}/reports/no-such-secret/", data=b"{}", timeout=30).status_code == 404
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _answers(base: str) -> bool:
    try:
        requests.get(f"{base}/health?only=database", timeout=2)
        return True
    except requests.RequestException:
        return False
