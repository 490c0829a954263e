"""Outcomes on the manager's pages: the campaign page's counts, rates, talk time and keys (from the
stored tallies), the calls table's outcome filter, and the flow page's report URL."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dialer.models import Call
from dialer.outcomes import applying
from dialer.outcomes.receiving import report_receive
from flows.services import flow_report_url
from tests.conftest import make_user
from tests.dialer.outcome_reports import leg, report
from tests.factories import make_contact_list
from tests.pages.test_views import _campaign, _place_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def reported(acme_flow):
    campaign = _campaign(make_contact_list(acme_flow, 5, name="L"), name="Outcomes", status="running", plan=True)
    _place_all(campaign)
    calls = list(Call.objects.filter(campaign=campaign).select_related("contact").order_by("id"))
    bodies = [
        report(
            calls[0].phonon_uuid, leg("a", calls[0].contact.primary_number, connected=True, duration=30000, keys="1")
        ),
        report(
            calls[1].phonon_uuid, leg("b", calls[1].contact.primary_number, connected=True, duration=60000, keys="12")
        ),
        report(calls[2].phonon_uuid, leg("c", calls[2].contact.primary_number, cause="17", rang=False)),
        report(calls[3].phonon_uuid, leg("d", calls[3].contact.primary_number, cause="1", rang=False)),
    ]
    for body in bodies:
        assert report_receive(flow=acme_flow, body=body, remote_addr=None).http_status == 200
    applying.reports_apply()
    return campaign


def test_the_campaign_page_shows_outcome_counts_rates_talk_time_and_keys(client, alice, reported):
    client.force_login(alice)
    page = client.get(reverse("campaign_detail", args=[reported.pk])).content.decode()
    assert 'id="outcome-answered"' in page and ">2</a>" in page
    assert "40.0% of the calls taken" in page  # 2 answered of 5 taken
    assert "Average talk time: <strong>45.0 s</strong>" in page
    assert "<code>1</code></td><td>2 (100%)" in page and "<code>2</code></td><td>1 (50%)" in page
    assert 'id="outcome-pending">1<' in page
    assert "Cause 17 user busy" in page


def test_the_live_fragment_reads_outcomes_from_stored_tallies_without_counting_calls(client, alice, reported):
    client.force_login(alice)
    with CaptureQueriesContext(connection) as queries:
        fragment = client.get(reverse("campaign_live", args=[reported.pk])).content.decode()
    assert 'id="outcome-busy"' in fragment
    call_table = Call._meta.db_table
    assert not [q["sql"] for q in queries.captured_queries if f'FROM "{call_table}"' in q["sql"]]


def test_the_calls_table_filters_by_outcome(client, alice, reported):
    client.force_login(alice)
    busy = client.get(reverse("campaign_calls", args=[reported.pk]), {"outcome": "busy"}).content.decode()
    assert busy.count("outcome-busy") == 1 and "outcome-answered" not in busy
    assert 'id="outcome-filter"' in busy
    wrong = client.get(reverse("campaign_calls", args=[reported.pk]), {"outcome": "nonsense"})
    assert wrong.status_code == 200


def test_the_flow_page_shows_the_report_url_and_rotates_it(client, alice, acme_flow):
    client.force_login(alice)
    before = flow_report_url(acme_flow)
    page = client.get(reverse("flow_detail", args=[acme_flow.pk])).content.decode()
    assert before in page and 'id="copy-report-url"' in page
    client.post(reverse("flow_rotate_report_url", args=[acme_flow.pk]))
    acme_flow.refresh_from_db()
    assert flow_report_url(acme_flow) != before


def test_charlie_cannot_rotate_acme_s_report_url(client, charlie, acme_flow):
    client.force_login(charlie)
    token = acme_flow.report_token
    assert client.post(reverse("flow_rotate_report_url", args=[acme_flow.pk])).status_code == 404
    acme_flow.refresh_from_db()
    assert acme_flow.report_token == token


def test_admin_shows_unmatched_reports_the_call_s_legs_and_the_flow_s_report_url(client, reported, acme_flow):
    client.force_login(make_user("root", staff=True, superuser=True))
    stranger = report_receive(flow=acme_flow, body=report("never-ours", leg("z", "919999")), remote_addr="10.1.2.3")
    listing = client.get(reverse("admin:dialer_outcomereport_changelist"), {"status": "unmatched"}).content.decode()
    assert "never-ours" in listing
    detail = client.get(reverse("admin:dialer_outcomereport_change", args=[stranger.report_id])).content.decode()
    assert "No call of this flow has this uuid" in detail and "&quot;cdrId&quot;: &quot;z&quot;" in detail
    busy = Call.objects.get(campaign=reported, outcome="busy")
    call_page = client.get(reverse("admin:dialer_call_change", args=[busy.pk])).content.decode()
    assert "17 user busy" in call_page
    flow_page = client.get(reverse("admin:flows_flow_change", args=[acme_flow.pk])).content.decode()
    assert flow_report_url(acme_flow) in flow_page
