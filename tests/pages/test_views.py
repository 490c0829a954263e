"""The campaign manager's pages through the Django test client: access, forms, actions, downloads.

alice and bob manage the Acme account, charlie manages Globex; staff see every account.
"""

import csv
import datetime
import html
import io
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, ContactList, RejectedRow
from dialer import campaign_actions, campaign_states
from dialer.models import Batch, BatchAttempt, Call
from dialer.planning import campaign_plan
from dialer.tallies import calls_recount
from flows.models import Flow
from pages.selectors import campaign_chart, limit_per_minute
from tests.conftest import make_user
from tests.factories import make_contact_list

pytestmark = pytest.mark.django_db

CSV = b"tel1,tel2,$flow.key.name\n919812345678,919887654321,Asha\n919812345679,,Ravi\n"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def staff():
    return make_user("root", staff=True, superuser=True)


@pytest.fixture
def acme_list(acme_flow):
    return make_contact_list(acme_flow, 5, name="Acme March list")


@pytest.fixture
def globex_list(globex_flow):
    return make_contact_list(globex_flow, 3, first=100, name="Globex list")


def _campaign(contact_list, *, status=Campaign.Status.DRAFT, plan=False, **options):
    campaign = campaign_actions.campaign_create(
        contact_list=contact_list, window="00:00-24:00", batch_size=2, **options
    )
    if plan:
        campaign_plan(campaign_id=campaign.pk)
    Campaign.objects.filter(pk=campaign.pk).update(status=status)
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def acme_campaign(acme_list):
    return _campaign(acme_list, name="Acme March campaign", status=Campaign.Status.RUNNING, plan=True)


@pytest.fixture
def globex_campaign(globex_list):
    return _campaign(globex_list, name="Globex campaign", status=Campaign.Status.RUNNING, plan=True)


def _place_all(campaign):
    for call in Call.objects.filter(campaign=campaign):
        call.state = Call.State.PLACED
        call.phonon_uuid = f"uuid-{call.pk:04d}"
        call.provider_code = 200
        call.save()
    Batch.objects.filter(campaign=campaign).update(status=Batch.Status.PLACED, request_id="req-1", response_code=200)
    calls_recount()  # the calls were written behind the product's back


# --- Access -------------------------------------------------------------------------------------


def test_alice_sees_her_accounts_lists_and_campaigns_and_nothing_of_globex(
    client, alice, acme_campaign, globex_campaign
):
    client.force_login(alice)

    lists = client.get(reverse("list_index")).content.decode()
    campaigns = client.get(reverse("campaign_list")).content.decode()
    dashboard = client.get(reverse("dashboard")).content.decode()

    assert "Acme March list" in lists and "Globex list" not in lists
    assert "Acme March campaign" in campaigns and "Globex campaign" not in campaigns
    assert "Acme March campaign" in dashboard and "Globex" not in dashboard


def test_bob_who_shares_alices_account_sees_her_campaign(client, bob, acme_campaign):
    client.force_login(bob)

    response = client.get(reverse("campaign_detail", args=[acme_campaign.pk]))

    assert response.status_code == 200
    assert "Acme March campaign" in response.content.decode()


@pytest.mark.parametrize(
    "name, target",
    [
        ("flow_detail", "flow"), ("flow_template_csv", "flow"),
        ("list_detail", "list"), ("list_progress", "list"), ("list_rejected_csv", "list"), ("list_launch", "list"),
        ("campaign_detail", "campaign"), ("campaign_live", "campaign"), ("campaign_batches", "campaign"),
        ("campaign_calls", "campaign"), ("campaign_cancel", "campaign"), ("campaign_export", "campaign"),
    ],
)
def test_charlie_gets_404_for_every_page_of_alices_account(client, charlie, acme_campaign, name, target):
    pk = {"flow": acme_campaign.flow_id, "list": acme_campaign.contact_list_id, "campaign": acme_campaign.pk}[target]
    client.force_login(charlie)

    response = client.get(reverse(name, args=[pk]))

    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    assert "Traceback" not in response.content.decode()


@pytest.mark.parametrize(
    "name, target",
    [("flow_mark_requested", "flow"), ("flow_mark_activated", "flow"), ("flow_test_call", "flow"),
     ("campaign_pause", "campaign"), ("campaign_resume", "campaign"), ("campaign_cancel", "campaign"),
     ("list_launch", "list")],
)
def test_charlie_cannot_act_on_alices_account(client, charlie, acme_campaign, name, target):
    pk = {"flow": acme_campaign.flow_id, "list": acme_campaign.contact_list_id, "campaign": acme_campaign.pk}[target]
    client.force_login(charlie)

    response = client.post(reverse(name, args=[pk]), {"confirm": "on", "number": "919812345678"})

    assert response.status_code == 404
    acme_campaign.refresh_from_db()
    assert acme_campaign.status == Campaign.Status.RUNNING
    assert Flow.objects.get(pk=acme_campaign.flow_id).activated_at is None


def test_staff_see_every_account(client, staff, acme_campaign, globex_campaign):
    client.force_login(staff)

    campaigns = client.get(reverse("campaign_list")).content.decode()

    assert "Acme March campaign" in campaigns and "Globex campaign" in campaigns
    assert client.get(reverse("campaign_detail", args=[globex_campaign.pk])).status_code == 200


def test_a_manager_with_no_account_sees_empty_pages(client, acme_campaign):
    client.force_login(make_user("dave"))

    for name in ("dashboard", "flow_list", "list_index", "campaign_list"):
        response = client.get(reverse(name))
        assert response.status_code == 200
        assert "Acme" not in response.content.decode()


def test_a_manager_cannot_open_admin(client, bob):
    client.force_login(bob)

    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


# --- Flows --------------------------------------------------------------------------------------


def test_flow_page_shows_checklist_and_activation_mail_with_client_flow_and_every_did(client, alice, acme_flow):
    client.force_login(alice)

    page = client.get(reverse("flow_detail", args=[acme_flow.pk])).content.decode()

    assert "Listener checklist" in page
    assert "mailto:help@phonon.io" in page
    assert "Client ID: C129113" in page and "Flow ID: ZH0RKJvh" in page
    assert "918045678901" in page and "918045678902" in page
    assert 'id="mark-requested"' in page and 'id="mark-activated"' in page


def test_flow_page_never_shows_the_security_id(client, alice, acme_flow):
    client.force_login(alice)

    page = client.get(reverse("flow_detail", args=[acme_flow.pk])).content.decode()

    assert "acme-secret-9876" not in page
    assert "••••9876" in page


def test_marking_activation_requested_and_activated(client, alice, acme_flow):
    client.force_login(alice)

    client.post(reverse("flow_mark_requested", args=[acme_flow.pk]))
    response = client.post(reverse("flow_mark_activated", args=[acme_flow.pk]), follow=True)

    acme_flow.refresh_from_db()
    assert acme_flow.activation_requested_at is not None and acme_flow.activated_at is not None
    assert "marked as activated" in response.content.decode()
    assert client.get(reverse("flow_mark_requested", args=[acme_flow.pk])).status_code == 405


def test_a_test_call_on_a_flow_not_activated_asks_to_confirm_first(client, alice, acme_flow):
    client.force_login(alice)

    asked = client.post(reverse("flow_test_call", args=[acme_flow.pk]), {"number": "+91 98123 45678"})
    confirmed = client.post(reverse("flow_test_call", args=[acme_flow.pk]),
                            {"number": "+91 98123 45678", "confirm_not_activated": "on"})

    assert asked.status_code == 400 and "has not activated this flow's listener yet" in asked.content.decode()
    assert confirmed.status_code == 302 and Campaign.objects.count() == 1


def test_test_calls_are_listed_apart_from_the_campaigns_and_lists(client, alice, acme_flow, acme_campaign):
    acme_flow.activated_at = timezone.now()
    acme_flow.save()
    client.force_login(alice)
    client.post(reverse("flow_test_call", args=[acme_flow.pk]), {"number": "+91 98123 45678"})

    campaigns = client.get(reverse("campaign_list")).content.decode()
    tests = client.get(reverse("campaign_list"), {"show": "tests"}).content.decode()
    lists = client.get(reverse("list_index")).content.decode()
    flow_page = client.get(reverse("flow_detail", args=[acme_flow.pk])).content.decode()

    assert "Acme March campaign" in campaigns and "Test call ZH0RKJvh" not in campaigns
    assert "Test call ZH0RKJvh" in tests and "Acme March campaign" not in tests
    assert "Test call to" not in lists
    assert "Test call ZH0RKJvh to 919812345678" in flow_page


def test_test_call_launches_a_one_call_campaign_with_api_version_test(client, alice, acme_flow):
    acme_flow.activated_at = timezone.now()
    acme_flow.save()
    client.force_login(alice)

    response = client.post(
        reverse("flow_test_call", args=[acme_flow.pk]), {"number": "+91 98123 45678", "variables": "name=Asha"}
    )

    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("campaign_detail", args=[campaign.pk])
    assert campaign.api_version == "TEST" and campaign.status == Campaign.Status.SCHEDULED
    assert campaign.window_start == datetime.time(0, 0) and campaign.window_end is None
    contact = campaign.contact_list.contacts.get()
    assert contact.numbers == ["919812345678"] and contact.variables == {"name": "Asha"}


def test_test_call_to_an_invalid_number_says_why(client, alice, acme_flow):
    client.force_login(alice)

    response = client.post(reverse("flow_test_call", args=[acme_flow.pk]), {"number": "12"})

    assert response.status_code == 400
    assert "is not a valid phone number" in response.content.decode()
    assert not Campaign.objects.exists()


def test_template_csv_names_the_columns(client, alice, acme_flow):
    client.force_login(alice)

    response = client.get(reverse("flow_template_csv", args=[acme_flow.pk]))

    assert response["Content-Disposition"].startswith("attachment")
    assert response.content.decode().splitlines()[0].startswith("tel1,tel2,starttime")


# --- Call lists -----------------------------------------------------------------------------------


def test_upload_form_offers_only_the_flows_of_the_users_accounts(client, alice, acme_flow, globex_flow):
    client.force_login(alice)

    page = client.get(reverse("list_index")).content.decode()

    assert "ZH0RKJvh" in page and "GLBXflw1" not in page


def test_upload_to_another_accounts_flow_is_refused(client, alice, globex_flow):
    client.force_login(alice)

    response = client.post(
        reverse("list_upload"), {"flow": globex_flow.pk, "file": io.BytesIO(CSV)},
        HTTP_X_REQUESTED_WITH="XMLHttpRequest",
    )

    assert response.status_code == 400
    assert "Choose one of your flows from the list." in response.json()["error"]
    assert response.json()["errors"]["flow"][0]["code"] == "invalid_choice"
    assert not ContactList.objects.exists()


def test_xhr_upload_stores_the_list_queues_its_import_on_commit_and_answers_with_its_url(
    client, alice, acme_flow, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    upload = io.BytesIO(CSV)
    upload.name = "march.csv"

    with mock.patch("campaigns.tasks.import_contact_list_task") as task:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("list_upload"), {"flow": acme_flow.pk, "file": upload, "encoding": "utf-8"},
                HTTP_X_REQUESTED_WITH="XMLHttpRequest",
            )

    contact_list = ContactList.objects.get()
    assert response.status_code == 201
    assert response.json()["url"] == reverse("list_detail", args=[contact_list.pk])
    assert contact_list.status == ContactList.Status.PENDING and contact_list.created_by == alice
    assert contact_list.encoding == "utf-8" and contact_list.name == "march"
    task.delay.assert_called_once_with(contact_list.pk, from_rows=False)


def test_plain_form_upload_redirects_to_the_list(client, alice, acme_flow):
    client.force_login(alice)
    upload = io.BytesIO(CSV)
    upload.name = "march.csv"

    with mock.patch("campaigns.tasks.import_contact_list_task"):
        response = client.post(reverse("list_upload"), {"flow": acme_flow.pk, "file": upload})

    assert response.status_code == 302
    assert response["Location"] == reverse("list_detail", args=[ContactList.objects.get().pk])


def test_a_refused_file_shows_its_one_sentence(client, alice, acme_flow):
    client.force_login(alice)
    upload = io.BytesIO(b"not a list")
    upload.name = "notes.txt"

    with mock.patch("campaigns.tasks.import_contact_list_task") as task:
        xhr = client.post(reverse("list_upload"), {"flow": acme_flow.pk, "file": upload},
                          HTTP_X_REQUESTED_WITH="XMLHttpRequest")
        upload.seek(0)
        page = client.post(reverse("list_upload"), {"flow": acme_flow.pk, "file": upload})

    assert xhr.status_code == 400
    assert xhr.json()["error"].startswith("Only .csv and .zip files are accepted")
    assert page.status_code == 400 and "Only .csv and .zip files are accepted" in page.content.decode()
    task.delay.assert_not_called()


def test_upload_without_a_file_asks_for_one(client, alice, acme_flow):
    client.force_login(alice)

    response = client.post(reverse("list_upload"), {"flow": acme_flow.pk})

    assert response.status_code == 400
    assert "Choose a .csv or .zip file to upload." in response.content.decode()


def test_preview_shows_the_first_rows_as_the_import_reads_them(client, alice):
    client.force_login(alice)
    upload = io.BytesIO(CSV)
    upload.name = "march.csv"

    page = client.post(reverse("list_preview"), {"file": upload}).content.decode()

    assert "tel1" in page and "919812345678" in page and "Asha" in page


def test_list_page_polls_the_import_until_it_is_final(client, alice, acme_flow):
    client.force_login(alice)
    pending = ContactList.objects.create(flow=acme_flow, name="pending", status=ContactList.Status.IMPORTING,
                                         rows_done=10, imported_count=9, rejected_count=1,
                                         started_at=timezone.now())

    polling = client.get(reverse("list_progress", args=[pending.pk]), HTTP_HX_REQUEST="true")
    ContactList.objects.filter(pk=pending.pk).update(status=ContactList.Status.IMPORTED)
    final = client.get(reverse("list_progress", args=[pending.pk]), HTTP_HX_REQUEST="true")

    assert 'hx-trigger="every 1s"' in polling.content.decode()
    assert "HX-Refresh" not in polling
    assert 'hx-trigger' not in final.content.decode()
    assert final["HX-Refresh"] == "true"


def test_imported_list_page_shows_rejected_rows_and_the_launch_form(client, alice, acme_list):
    RejectedRow.objects.create(contact_list=acme_list, line=7, column="tel1", value="12", reason="not a number")
    ContactList.objects.filter(pk=acme_list.pk).update(rejected_count=1)
    client.force_login(alice)

    page = client.get(reverse("list_detail", args=[acme_list.pk])).content.decode()
    report = client.get(reverse("list_rejected_csv", args=[acme_list.pk]))

    assert "Review the launch" in page and "not a number" in page
    rows = list(csv.reader(io.StringIO(report.content.decode())))
    assert rows == [["line", "column", "value", "reason"], ["7", "tel1", "12", "not a number"]]


# --- Launching ------------------------------------------------------------------------------------


LAUNCH = {
    "name": "March reminders", "start_at": "", "timezone": "Asia/Kolkata", "window_start": "00:00",
    "window_end": "24:00", "window_days": ["0", "1", "2", "3", "4", "5", "6"], "batch_size": "50",
    "api_version": "1.0",
    "confirm_listener": "on",  # the fixtures' flow has no activated listener (see test_launch_listener.py)
    "confirm_indian_hours": "on",  # around the clock, to Indian numbers
}


CONFIRM = {"reviewed": "1", "skip_called": "on", "look_back_days": "7", "confirm": "1"}


def test_launch_shows_the_review_first_and_creates_nothing(client, alice, acme_list):
    client.force_login(alice)

    response = client.post(
        reverse("list_launch", args=[acme_list.pk]), {**LAUNCH, "start_at": "2030-01-02T10:30", "window_days": ["0"]}
    )

    page = response.content.decode()
    assert response.status_code == 200 and not Campaign.objects.exists()
    assert "Review the launch" in page and "Confirm and launch" in page
    assert "<strong>5 contacts</strong>" in page
    assert "2 Jan 2030, 10:30 IST (05:00 UTC)" in page  # a Wednesday: it waits for Monday's window
    assert "Waiting for the window: starts 7 Jan 00:00 IST (in " in page
    assert "Around the clock, mon" in page
    assert "None of these contacts was called" in page


def test_launch_creates_and_schedules_the_campaign(client, alice, acme_list):
    client.force_login(alice)

    response = client.post(
        reverse("list_launch", args=[acme_list.pk]),
        {**LAUNCH, **CONFIRM, "start_at": "2030-01-02T10:30", "window_days": ["0", "2"], "api_version": "TEST"},
    )

    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("campaign_detail", args=[campaign.pk])
    assert campaign.status == Campaign.Status.SCHEDULED and campaign.created_by == alice
    assert campaign.start_at == datetime.datetime(2030, 1, 2, 5, 0, tzinfo=datetime.UTC)  # 10:30 at +05:30
    assert (campaign.window_start, campaign.window_end) == (datetime.time(0, 0), None)
    assert campaign.window_days == [0, 2] and campaign.batch_size == 50 and campaign.api_version == "TEST"
    assert campaign.skip_called_days == 7


def test_unticking_skip_launches_with_everyone_called(client, alice, acme_list):
    client.force_login(alice)
    confirm = {key: value for key, value in CONFIRM.items() if key != "skip_called"}

    client.post(reverse("list_launch", args=[acme_list.pk]), {**LAUNCH, **confirm})

    assert Campaign.objects.get().skip_called_days is None


def test_the_review_counts_the_contacts_called_in_the_look_back(client, alice, acme_list):
    # given an earlier campaign that placed calls to two of the list's numbers
    # (two days ago: outside the account's cap of 1 call per day, inside the 7-day look-back)
    earlier = _campaign(acme_list, name="Earlier run", status=Campaign.Status.COMPLETED, plan=True)
    two_days_ago = timezone.now() - datetime.timedelta(days=2)
    Call.objects.filter(campaign=earlier, contact__line__in=[2, 3]).update(state=Call.State.PLACED,
                                                                          updated_at=two_days_ago)
    Call.objects.filter(campaign=earlier, state=Call.State.PENDING).update(state=Call.State.SKIPPED)
    Campaign.objects.filter(pk=earlier.pk).update(finished_at=two_days_ago)
    calls_recount()
    client.force_login(alice)

    # when alice reviews a relaunch of the list
    page = client.post(reverse("list_launch", args=[acme_list.pk]), LAUNCH).content.decode()
    recount = client.post(reverse("list_launch", args=[acme_list.pk]),
                          {**LAUNCH, "reviewed": "1", "look_back_days": "7", "recount": "1"}).content.decode()

    # then two are already called and skipped by default; unticked, all five are called
    assert "<strong>2 contacts</strong> of this list" in page and "2 contacts in “Earlier run”" in page
    assert "<strong>3 contacts</strong>" in page and 'id="id_skip_called" checked' in page
    assert "<strong>5 contacts</strong>" in recount and 'id="id_skip_called" checked' not in recount


@pytest.mark.parametrize(
    "change, message",
    [
        ({"batch_size": "501"}, "The provider takes at most 500 calls in one request"),
        ({"batch_size": "0"}, "A batch holds at least 1 call"),
        ({"window_start": "25:00"}, "Write the time as HH:MM on a 24-hour clock"),
        ({"window_start": "09:00", "window_end": "09:00"}, "must not start and end at the same time"),
        ({"window_days": []}, "Choose at least one weekday."),
        ({"start_at": "yesterday"}, "Write the start as a date and a time"),
        ({"start_at": "2001-01-01T10:00"}, "The start time is in the past"),
        ({"timezone": "Mars/Olympus"}, "is not a time zone we know"),
        ({"timezone": "Asia/Calcutta"}, "is not a time zone we know"),
    ],
)
def test_launch_form_says_what_is_wrong(client, alice, acme_list, change, message):
    client.force_login(alice)

    response = client.post(reverse("list_launch", args=[acme_list.pk]), {**LAUNCH, **change})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert "Ensure this value" not in response.content.decode()
    assert not Campaign.objects.exists()


def test_a_list_that_is_not_imported_cannot_be_launched(client, alice, acme_flow):
    contact_list = ContactList.objects.create(flow=acme_flow, name="still importing",
                                              status=ContactList.Status.IMPORTING)
    client.force_login(alice)

    response = client.post(reverse("list_launch", args=[contact_list.pk]), LAUNCH)

    assert response.status_code == 400
    assert "is importing, not imported" in response.content.decode()


# --- Campaign page and actions ----------------------------------------------------------------------


def test_campaign_page_shows_progress_outcomes_batches_and_calls(client, alice, acme_campaign):
    _place_all(acme_campaign)
    client.force_login(alice)

    page = client.get(reverse("campaign_detail", args=[acme_campaign.pk])).content.decode()

    assert "100%" in page and 'id="count-placed">5<' in page
    assert "uuid-" in page and "req-1" in page
    assert "200 Success: The provider accepted every call." in page
    assert "Calls accepted by the provider per minute" in page and "No call has been accepted yet." in page
    assert "not that the customer answered" in page  # what "Placed" means, beside it


def test_running_campaign_can_be_paused_and_resumed_with_its_buttons(client, alice, acme_campaign):
    client.force_login(alice)

    running = client.get(reverse("campaign_detail", args=[acme_campaign.pk])).content.decode()
    paused = client.post(reverse("campaign_pause", args=[acme_campaign.pk]), follow=True).content.decode()
    acme_campaign.refresh_from_db()
    status_after_pause = acme_campaign.status
    resumed = client.post(reverse("campaign_resume", args=[acme_campaign.pk]), follow=True).content.decode()
    acme_campaign.refresh_from_db()

    assert 'id="pause-button"' in running and 'id="resume-button"' not in running
    assert status_after_pause == Campaign.Status.PAUSED
    assert 'id="resume-button"' in paused and "Paused by a manager (alice)." in paused
    assert acme_campaign.status == Campaign.Status.RUNNING and "Campaign resumed." in resumed


def test_pausing_a_campaign_that_is_not_running_says_why(client, alice, acme_list):
    campaign = _campaign(acme_list, status=Campaign.Status.COMPLETED)
    client.force_login(alice)

    page = client.post(reverse("campaign_pause", args=[campaign.pk]), follow=True).content.decode()

    assert "Only a running campaign can be paused; this one is completed." in page


def test_system_pause_reason_is_shown_in_words(client, alice, acme_campaign):
    campaign_states.campaign_pause_by_system(
        campaign_id=acme_campaign.pk,
        reason="The provider answered 212 Insufficient Balance: The account's balance at the provider is too low.",
    )
    client.force_login(alice)

    page = client.get(reverse("campaign_live", args=[acme_campaign.pk])).content.decode()

    assert page.count("Insufficient Balance") == 1  # said once: not again under "Why:"


def test_cancel_asks_for_confirmation_first(client, alice, acme_campaign):
    client.force_login(alice)

    confirm = client.get(reverse("campaign_cancel", args=[acme_campaign.pk]))
    unconfirmed = client.post(reverse("campaign_cancel", args=[acme_campaign.pk]), {})
    acme_campaign.refresh_from_db()
    status_before = acme_campaign.status
    done = client.post(reverse("campaign_cancel", args=[acme_campaign.pk]), {"confirm": "on"}, follow=True)
    acme_campaign.refresh_from_db()

    assert confirm.status_code == 200 and 'id="confirm-cancel"' in confirm.content.decode()
    assert unconfirmed.status_code == 400 and "Tick the box to confirm" in unconfirmed.content.decode()
    assert status_before == Campaign.Status.RUNNING
    assert acme_campaign.status == Campaign.Status.CANCELLED
    assert "Campaign cancelled" in done.content.decode()
    assert set(Call.objects.filter(campaign=acme_campaign).values_list("state", flat=True)) == {"skipped"}


def test_chart_covers_the_whole_life_scaled_to_the_campaign_with_the_limit_line(acme_campaign, settings):
    # given attempts 20, 2 and 0 minutes ago, and a limit of 6 calls a minute
    settings.PHONON_REALTIME_RATE = "6/60"
    now = timezone.now().replace(second=30, microsecond=0)
    first, second, third = Batch.objects.filter(campaign=acme_campaign).order_by("sequence")  # 2, 2 and 1 calls
    for batch, minutes_ago in ((third, 20), (first, 2), (first, 0), (second, 0)):
        attempt = BatchAttempt.objects.create(batch=batch, number=1, outcome="answered", response_code=200)
        BatchAttempt.objects.filter(pk=attempt.pk).update(created_at=now - datetime.timedelta(minutes=minutes_ago))

    # when the chart is drawn
    drawn = campaign_chart(acme_campaign, limit_per_minute("realtime"), now=now)

    # then it spans all 21 minutes, one bar a minute, on a scale of 10 with the limit line in range
    assert len(drawn["bars"]) == 21 and drawn["bin_minutes"] == 1
    assert drawn["sent"] == 7 and drawn["peak"] == 4
    assert drawn["top"] == 10 and drawn["limit_in_range"] and [t["label"] for t in drawn["ticks"]] == ["0", "5", "10"]
    assert drawn["bars"][-1]["height"] > drawn["bars"][-3]["height"] > 0 and drawn["bars"][0]["height"] > 0
    assert drawn["summary"].startswith("7 calls accepted from ") and "peak 4 a minute" in drawn["summary"]


def test_a_long_campaign_gets_wider_bars_and_a_far_limit_leaves_the_scale(acme_campaign):
    now = timezone.now().replace(second=0, microsecond=0)
    batch = Batch.objects.filter(campaign=acme_campaign).first()
    for minutes_ago in (300, 0):
        attempt = BatchAttempt.objects.create(batch=batch, number=1, outcome="answered", response_code=200)
        BatchAttempt.objects.filter(pk=attempt.pk).update(created_at=now - datetime.timedelta(minutes=minutes_ago))

    drawn = campaign_chart(acme_campaign, 3000, now=now)

    assert drawn["bin_minutes"] == 10 and len(drawn["bars"]) == 31
    assert not drawn["limit_in_range"] and "off the scale" in drawn["summary"] and drawn["top"] == 1
    assert "peak 0.2 a minute" in drawn["summary"] and [t["label"] for t in drawn["ticks"]] == ["0", "0.5", "1"]


def test_live_fragment_polls_while_running_and_stops_when_final(client, alice, acme_campaign):
    client.force_login(alice)

    running = client.get(reverse("campaign_live", args=[acme_campaign.pk])).content.decode()
    Campaign.objects.filter(pk=acme_campaign.pk).update(status=Campaign.Status.COMPLETED)
    completed = client.get(reverse("campaign_live", args=[acme_campaign.pk])).content.decode()

    assert 'hx-trigger="every 2s"' in running
    assert "hx-trigger" not in completed


def test_contact_search_finds_the_calls_of_a_number(client, alice, acme_campaign):
    _place_all(acme_campaign)
    call = Call.objects.filter(campaign=acme_campaign).select_related("contact").order_by("id")[2]
    client.force_login(alice)

    found = client.get(reverse("campaign_calls", args=[acme_campaign.pk]), {"number": call.contact.primary_number[-6:]})
    too_short = client.get(reverse("campaign_calls", args=[acme_campaign.pk]), {"number": "12"})

    page = found.content.decode()
    assert call.phonon_uuid in page and "1 call to numbers ending in" in page
    assert page.count("phonon-uuid\">uuid-") == 1
    assert "Type at least 4 digits" in too_short.content.decode()


def test_calls_table_is_paginated(client, alice, acme_flow):
    big = make_contact_list(acme_flow, 120, first=1000, name="big")
    campaign = _campaign(big, status=Campaign.Status.RUNNING, plan=True)
    client.force_login(alice)

    first = client.get(reverse("campaign_calls", args=[campaign.pk])).content.decode()
    third = client.get(reverse("campaign_calls", args=[campaign.pk]), {"calls": 3}).content.decode()

    assert "Page 1 of 5" in first and "Page 3 of 5" in third
    assert third.count("<tr>") == 1 + 25


def test_export_has_one_row_per_call_with_its_phonon_uuid(client, alice, acme_campaign):
    _place_all(acme_campaign)
    client.force_login(alice)

    response = client.get(reverse("campaign_export", args=[acme_campaign.pk]))

    assert response.streaming
    day = timezone.localtime(acme_campaign.created_at, timezone=ZoneInfo("Asia/Kolkata")).date()
    assert response["Content-Disposition"] == f'attachment; filename="acme-march-campaign_{day}_results.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 5
    assert all(row["phonon_uuid"].startswith("uuid-") and row["state"] == "placed" for row in rows)
    assert {row["request_id"] for row in rows} == {"req-1"}


def test_dashboard_lists_problems_needing_action(client, alice, acme_campaign, acme_flow):
    campaign_states.campaign_pause_by_system(campaign_id=acme_campaign.pk, reason="The provider answered 202 Invalid "
                                             "Security ID.")
    Batch.objects.filter(campaign=acme_campaign, sequence=1).update(status=Batch.Status.FAILED)
    ContactList.objects.create(flow=acme_flow, name="with rejects", status=ContactList.Status.IMPORTED,
                               imported_count=10, rejected_count=3)
    ContactList.objects.create(flow=acme_flow, name="refused one", status=ContactList.Status.REFUSED,
                               error="The file is empty.")
    client.force_login(alice)

    page = client.get(reverse("dashboard")).content.decode()

    assert "Needs your attention (4)" in page
    assert "202 Invalid Security ID" in page
    assert "1 batch failed after every retry" in page
    assert "3 rows rejected" in page and "The file is empty." in page


def test_dashboard_htmx_request_gets_only_the_live_part(client, alice, acme_campaign):
    client.force_login(alice)

    fragment = client.get(reverse("dashboard"), HTTP_HX_REQUEST="true").content.decode()

    assert "<html" not in fragment and "Acme March campaign" in fragment


def test_unknown_page_is_the_custom_404(client, alice):
    client.force_login(alice)

    response = client.get("/campaigns/999999/")

    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_a_poll_after_the_session_ended_sends_the_whole_page_to_the_login(client, acme_campaign):
    page_url = reverse("campaign_detail", args=[acme_campaign.pk])

    response = client.get(
        reverse("campaign_live", args=[acme_campaign.pk]),
        HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=f"http://testserver{page_url}",
    )

    assert response["HX-Redirect"] == f"/login/?next={page_url}"
    assert response.content == b""


def test_a_server_error_shows_the_plain_500_page_without_a_traceback(client, alice, acme_campaign):
    client.force_login(alice)
    client.raise_request_exception = False

    with mock.patch("pages.views.dashboard.queries.active_campaigns", side_effect=RuntimeError("boom")):
        response = client.get(reverse("dashboard"))

    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in page
    assert "Traceback" not in page and "boom" not in page and "RuntimeError" not in page


def test_campaign_outside_its_calling_window_says_when_it_opens(client, alice, acme_list):
    now = timezone.localtime(timezone.now(), timezone=datetime.UTC)
    closed_days = [day for day in range(7) if day != now.weekday()]  # open every day but today
    campaign = campaign_actions.campaign_create(contact_list=acme_list, window="00:00-24:00", window_days=closed_days,
                                                timezone_name="UTC")
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.RUNNING)
    client.force_login(alice)

    page = client.get(reverse("campaign_live", args=[campaign.pk])).content.decode()

    opening = (now + datetime.timedelta(days=1)).date()
    assert f"Waiting for the window: starts {opening.day} {opening:%b} 00:00 UTC (in " in page


# --- Edit, duplicate, retry, archive ------------------------------------------------------------------


def test_editing_a_paused_campaign_changes_its_window_through_the_page(client, alice, acme_list):
    campaign = _campaign(acme_list, name="Spring", status=Campaign.Status.PAUSED)
    client.force_login(alice)

    form = client.get(reverse("campaign_edit", args=[campaign.pk])).content.decode()
    response = client.post(reverse("campaign_edit", args=[campaign.pk]), {
        "name": "Spring, later", "start_at": "", "timezone": "Europe/London", "window_start": "10:00",
        "window_end": "18:00", "window_days": ["0", "1", "2", "3", "4"],
    })

    campaign.refresh_from_db()
    assert 'value="Spring"' in form and "Batch size" not in form
    assert response.status_code == 302
    assert (campaign.name, campaign.timezone, campaign.window_start) == ("Spring, later", "Europe/London",
                                                                         datetime.time(10))


def test_duplicating_opens_another_lists_launch_form_with_the_campaigns_settings(client, alice, acme_list, acme_flow):
    campaign = _campaign(acme_list, status=Campaign.Status.COMPLETED, timezone_name="Europe/London")
    other = make_contact_list(acme_flow, 2, first=50, name="April list")
    client.force_login(alice)

    picked = client.get(reverse("campaign_duplicate", args=[campaign.pk]), {"contact_list": other.pk})
    form = client.get(picked["Location"]).content.decode()

    assert picked["Location"] == f"{reverse('list_launch', args=[other.pk])}?from={campaign.pk}"
    assert 'value="Europe/London"' in form and 'value="00:00"' in form and 'value="24:00"' in form
    assert not Campaign.objects.exclude(pk=campaign.pk).exists()  # nothing before the review's confirm


def test_retry_makes_a_list_of_the_rejected_calls_and_goes_to_its_review(client, alice, acme_campaign):
    Call.objects.filter(campaign=acme_campaign).update(state=Call.State.PLACED)
    Call.objects.filter(pk=Call.objects.filter(campaign=acme_campaign).first().pk).update(state=Call.State.REJECTED)
    calls_recount()
    Campaign.objects.filter(pk=acme_campaign.pk).update(status=Campaign.Status.COMPLETED)
    client.force_login(alice)

    page = client.get(reverse("campaign_detail", args=[acme_campaign.pk])).content.decode()
    response = client.post(reverse("campaign_retry", args=[acme_campaign.pk]))

    retry = ContactList.objects.get(source=ContactList.Source.RETRY)
    assert "Retry 1 rejected or skipped call" in page
    assert response["Location"] == f"{reverse('list_launch', args=[retry.pk])}?from={acme_campaign.pk}"
    assert retry.imported_count == 1


def test_an_archived_list_leaves_the_lists_and_the_dashboard(client, alice, acme_flow):
    refused = ContactList.objects.create(flow=acme_flow, name="broken.csv", status=ContactList.Status.REFUSED,
                                         error="The file has no tel1 column.")
    client.force_login(alice)
    assert "broken.csv" in client.get(reverse("dashboard")).content.decode()

    archived = client.post(reverse("list_archive", args=[refused.pk]), follow=True).content.decode()

    assert "“broken.csv” archived" in archived
    assert "broken.csv" not in client.get(reverse("dashboard")).content.decode()
    assert "broken.csv" not in client.get(reverse("list_index")).content.decode()
    assert "broken.csv" in client.get(reverse("list_index"), {"show": "archived"}).content.decode()


def test_the_preview_warns_of_unknown_columns_new_variables_and_empty_values(client, alice, acme_list, acme_flow):
    # given the flow's earlier list used $flow.key.name
    client.force_login(alice)
    data = b"tel1,Amount,$flow.key.nmae\n919812345678,10,\n919812345679,20,Ravi\n"

    page = html.unescape(client.post(reverse("list_preview"), {"file": io.BytesIO(data), "filename": "x.csv",
                                                               "flow": acme_flow.pk}).content.decode())

    assert "The column “Amount” is not a column we know; it will be sent as the flow variable $flow.key.Amount" in page
    assert "$flow.key.nmae was not used by this flow's earlier lists (name); check its spelling." in page
    assert "$flow.key.nmae is empty in 1 of the first 2 rows" in page


def test_a_preview_that_refuses_the_file_marks_itself_fatal(client, alice):
    client.force_login(alice)

    page = client.post(reverse("list_preview"), {"file": io.BytesIO(b"name\nAsha\n"), "filename": "x.csv"})

    assert 'data-fatal="true"' in page.content.decode() and "which column holds the number" in page.content.decode()


def test_the_polled_pages_read_the_stored_tallies_and_never_the_calls(client, alice, acme_campaign):
    # given a running campaign with every call placed
    _place_all(acme_campaign)
    client.force_login(alice)

    # when the live fragment, the campaign list and the dashboard are polled
    with CaptureQueriesContext(connection) as queries:
        live = client.get(reverse("campaign_live", args=[acme_campaign.pk]), HTTP_HX_REQUEST="true").content.decode()
        table = client.get(reverse("campaign_list"), HTTP_HX_REQUEST="true").content.decode()
        dashboard = client.get(reverse("dashboard"), HTTP_HX_REQUEST="true").content.decode()

    # then they show the counts, and not one of their queries reads the calls table (a scan per poll)
    assert 'id="count-placed">5<' in live and "100%" in live
    assert "Acme March campaign" in table and "5 / 5" in table.replace(",", "")
    assert "Acme March campaign" in dashboard
    calls_table = f'"{Call._meta.db_table}"'
    assert [query["sql"] for query in queries if calls_table in query["sql"]] == []
