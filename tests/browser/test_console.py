"""Issue 13 in a real browser, point by point, at 1366 and 390 px wide: the launch review, a status
that explains itself, edit/duplicate/retry, uploads that cannot waste a file, time zones, lists and
campaigns as tools, exports, the whole-life chart, words for people, and no dead ends. Then an
accessibility check (axe-core, vendored) on every page.

alice manages the Acme account. Screenshots go to test-artifacts/screenshots/console-*.
"""

import csv
import datetime
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign, ContactList, RejectedRow
from dialer import campaign_actions, campaign_states
from dialer.models import Batch, BatchAttempt, Call
from dialer.planning import campaign_plan
from dialer.tallies import calls_recount
from flows.models import DID, Account, Flow
from tests.factories import make_contact_list, phone
from tests.processes import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-browser-test-password"
WIDE = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
AXE = Path(__file__).resolve().parents[2] / "static" / "vendor" / "axe.min.js"


@pytest.fixture
def acme():
    alice = get_user_model().objects.create_user("alice", password=PASSWORD)
    # A generous dialling cap: these tests are about the review's look-back (the cap has its own tests).
    # Around-the-clock windows to Indian numbers without the calling-hours question: these tests are about
    # other things (tests/browser/test_console_truth.py asks it).
    account = Account.objects.create(name="Acme Lending", client_id="C129113", calls_per_number=100,
                                     warn_outside_indian_hours=False)
    account.managers.add(alice)
    flow = Flow.objects.create(account=account, flow_id="ZH0RKJvh", name="Payment reminders",
                               security_id="acme-security-id-0001", activated_at=timezone.now())
    DID.objects.create(flow=flow, number="918045678901")
    return {"alice": alice, "account": account, "flow": flow}


@pytest.fixture
def shoot(artifacts_dir):
    """shoot(page, name): full-page screenshots at 1366 and at 390 px wide."""
    folder = artifacts_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def run(page, name):
        for label, size in (("1366", WIDE), ("390", PHONE)):
            page.set_viewport_size(size)
            page.screenshot(path=folder / f"console-{name}-{label}.png", full_page=True)
        page.set_viewport_size(WIDE)

    return run


def log_in(page, live_server):
    page.set_viewport_size(WIDE)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")


def campaign_of(contact_list, *, status, name="Spring reminders", **options):
    options.setdefault("window", "00:00-24:00")
    campaign = campaign_actions.campaign_create(contact_list=contact_list, name=name, batch_size=2, **options)
    campaign_plan(campaign_id=campaign.pk)
    Campaign.objects.filter(pk=campaign.pk).update(status=status)
    campaign.refresh_from_db()
    return campaign


def finish(campaign, *, minutes=30, rejected=0):
    """Every call placed (the first `rejected` refused), requests spread over `minutes` minutes."""
    started = timezone.now() - datetime.timedelta(minutes=minutes)
    batches = list(Batch.objects.filter(campaign=campaign).order_by("sequence"))
    for index, batch in enumerate(batches):
        attempt = BatchAttempt.objects.create(batch=batch, number=1, outcome="answered", response_code=200)
        sent = started + datetime.timedelta(minutes=minutes * index / max(1, len(batches) - 1))
        BatchAttempt.objects.filter(pk=attempt.pk).update(created_at=sent)
    Batch.objects.filter(campaign=campaign).update(status=Batch.Status.PLACED, request_id="req-1", response_code=200)
    Call.objects.filter(campaign=campaign).update(state=Call.State.PLACED, phonon_uuid="uuid-1", provider_code=200)
    first = Call.objects.filter(campaign=campaign).order_by("id").values_list("pk", flat=True)[:rejected]
    Call.objects.filter(pk__in=list(first)).update(state=Call.State.REJECTED, provider_code=205,
                                                  provider_message="Invalid Contact Number", phonon_uuid="")
    calls_recount()
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.COMPLETED, started_at=started,
                                                   finished_at=timezone.now())


# 1. A review step before every launch; a relaunch of a list just called places no call -------------


@pytest.mark.e2e
def test_1_relaunching_a_list_just_called_places_no_call_unless_the_manager_unticks_skip(
    page, live_server, acme, sandbox, start_processes, settings, shoot
):
    # given a worker, beat and the sandbox, and a list of 12 imported contacts
    start_processes(workers=1)
    contact_list = make_contact_list(acme["flow"], 12, name="Demo list")
    log_in(page, live_server)

    def launch(*, untick=False):
        page.goto(f"{live_server.url}/lists/{contact_list.pk}/launch/")
        page.get_by_label("Calling window from").fill("00:00")
        page.get_by_label("Calling window until").fill("24:00")
        page.get_by_role("button", name="Review the launch").click()
        expect(page.get_by_role("heading", name="Review the launch")).to_be_visible()
        if untick:
            page.get_by_label("Skip the contacts already called").uncheck()
        page.get_by_role("button", name="Confirm and launch").click()
        page.wait_for_url(re.compile(r"/campaigns/\d+/$"))
        expect(page.locator("#campaign-live .badge")).to_have_text("Completed", timeout=60_000)
        return Campaign.objects.order_by("-pk").first()

    # when alice launches it: the review shows who, flow, when and how long; nothing exists before confirm
    page.goto(f"{live_server.url}/lists/{contact_list.pk}/launch/")
    page.get_by_label("Calling window from").fill("00:00")
    page.get_by_label("Calling window until").fill("24:00")
    page.get_by_role("button", name="Review the launch").click()
    expect(page.locator("#review-who")).to_contain_text("12 contacts")
    expect(page.locator("#review-flow")).to_contain_text("ZH0RKJvh")
    expect(page.locator("#review-window")).to_contain_text("Around the clock")
    expect(page.locator("#review-duration")).to_contain_text("calls a minute")
    assert not Campaign.objects.exists()
    first = launch()
    assert Call.objects.filter(campaign=first, state=Call.State.PLACED).count() == 12
    assert len(sandbox.provider.ledger()) == 12

    # when she launches the same list again: the review says all 12 were just called, skipped by default
    page.goto(f"{live_server.url}/lists/{contact_list.pk}/launch/")
    page.get_by_label("Calling window from").fill("00:00")
    page.get_by_label("Calling window until").fill("24:00")
    page.get_by_role("button", name="Review the launch").click()
    expect(page.locator("#review-called")).to_contain_text("12 contacts of this list")
    expect(page.locator("#review-called")).to_contain_text(f"“{first.name}”")
    expect(page.get_by_label("Skip the contacts already called")).to_be_checked()
    shoot(page, "01-review-relaunch")
    second = launch()

    # then nothing is placed: every call is skipped with the date and campaign of the earlier call
    assert len(sandbox.provider.ledger()) == 12
    skipped = Call.objects.filter(campaign=second)
    assert skipped.count() == 12 and set(skipped.values_list("state", flat=True)) == {Call.State.SKIPPED}
    assert all(f"in “{first.name}”" in message for message in skipped.values_list("provider_message", flat=True))
    expect(page.locator("#count-skipped")).to_have_text("12")

    # and only when she unticks "skip" are they called again
    third = launch(untick=True)
    assert Call.objects.filter(campaign=third, state=Call.State.PLACED).count() == 12
    wait_until(lambda: len(sandbox.provider.ledger()) == 24, timeout=30, message="12 more calls at the sandbox")


# 2. One status that explains itself -------------------------------------------------------------------


def test_2_the_status_explains_waits_and_a_provider_pause_names_who_fixes_it(page, live_server, acme, shoot):
    today = timezone.localtime(timezone=datetime.UTC).weekday()
    waiting = campaign_of(make_contact_list(acme["flow"], 4, name="Night list"), status=Campaign.Status.RUNNING,
                          name="Night run", window_days=[(today + 1) % 7], timezone_name="Europe/London")
    paused = campaign_of(make_contact_list(acme["flow"], 4, first=100), status=Campaign.Status.RUNNING,
                         name="Blocked run")
    Batch.objects.filter(campaign=paused).update(status=Batch.Status.HELD, response_code=202)
    campaign_states.campaign_pause_by_system(campaign_id=paused.pk, provider_code=202,
                                             reason="The provider answered 202 Invalid Security ID.")
    log_in(page, live_server)

    page.goto(f"{live_server.url}/campaigns/{waiting.pk}/")
    expect(page.locator("#status-headline")).to_contain_text("Waiting for the window: starts")
    expect(page.locator("#status-headline")).to_contain_text("Europe/London")
    expect(page.locator("#campaign-live")).not_to_contain_text("Sending")
    # one refresh for the whole panel: only the live fragment polls, the tables follow its signal
    assert page.locator("[hx-trigger^='every']").count() == 1
    with page.expect_response(re.compile(r"/campaigns/\d+/calls/")):
        pass
    shoot(page, "02-waiting-for-window")

    page.goto(f"{live_server.url}/campaigns/{paused.pk}/")
    expect(page.locator("#status-headline")).to_contain_text("Paused by the provider")
    expect(page.locator("#next-step")).to_contain_text("an admin can fix this")
    expect(page.locator("#next-step")).to_contain_text("Ask an admin to update the flow's security-id")
    expect(page.locator("#resume-button")).not_to_have_class(re.compile("button-primary"))
    expect(page.locator("#resume-button")).to_have_text("Resume once fixed")
    shoot(page, "02-paused-by-provider")


# 3. Edit, duplicate, retry ---------------------------------------------------------------------------------


def test_3_edit_a_scheduled_campaign_duplicate_it_and_retry_its_rejected_calls(page, live_server, acme, shoot):
    scheduled = campaign_of(make_contact_list(acme["flow"], 4, name="April list"), status=Campaign.Status.SCHEDULED,
                            name="April", start_at=timezone.now() + datetime.timedelta(days=2))
    finished = campaign_of(make_contact_list(acme["flow"], 6, first=50, name="March list"),
                           status=Campaign.Status.RUNNING, name="March")
    finish(finished, rejected=2)
    log_in(page, live_server)

    # edit: a wrong window is fixed without cancelling
    page.goto(f"{live_server.url}/campaigns/{scheduled.pk}/")
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Calling window from").fill("10:00")
    page.get_by_label("Calling window until").fill("18:00")
    shoot(page, "03-edit")
    page.get_by_role("button", name="Save the changes").click()
    expect(page.locator(".messages")).to_contain_text("Campaign changed")
    scheduled.refresh_from_db()
    assert scheduled.window_start == datetime.time(10) and scheduled.status == Campaign.Status.SCHEDULED

    # duplicate: the settings go onto another list, through the review
    page.get_by_role("link", name="Duplicate…").click()
    page.get_by_label("Call list").select_option(label="March list (6 contacts, flow ZH0RKJvh)")
    page.get_by_role("button", name="Continue to the settings").click()
    expect(page.get_by_label("Calling window from")).to_have_value("10:00")
    page.get_by_role("button", name="Review the launch").click()
    expect(page.get_by_role("heading", name="Review the launch")).to_be_visible()
    assert Campaign.objects.count() == 2

    # retry: the two rejected calls become a list of their own, launched through the review
    page.goto(f"{live_server.url}/campaigns/{finished.pk}/")
    page.get_by_role("button", name="Retry 2 rejected or skipped calls…").click()
    expect(page.locator(".messages")).to_contain_text("2 contacts to retry")
    page.get_by_role("button", name="Review the launch").click()
    expect(page.locator("#review-who")).to_contain_text("2 contacts")
    shoot(page, "03-retry-review")
    page.get_by_role("button", name="Confirm and launch").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+/$"))
    retry = Campaign.objects.order_by("-pk").first()
    assert retry.contact_list.source == ContactList.Source.RETRY and retry.contact_list.imported_count == 2


# 4 and 10. Uploads that cannot waste a file; archive; warnings; test calls -----------------------------


def test_4_a_fatal_preview_disables_the_upload_and_a_refused_list_can_be_archived(page, live_server, acme, shoot,
                                                                                    media_root):
    refused = ContactList.objects.create(flow=acme["flow"], name="broken.csv", status=ContactList.Status.REFUSED,
                                         error="The file has no tel1 column.")
    log_in(page, live_server)
    expect(page.locator("#problems-h")).to_contain_text("Needs your attention")

    # a file without tel1: the preview says why and the upload button is disabled
    page.goto(f"{live_server.url}/lists/")
    page.wait_for_selector("html[data-js=ready]", state="attached")
    page.set_input_files("#id_file", files=[{"name": "bad.csv", "mimeType": "text/csv",
                                              "buffer": b"name,city\nAsha,Pune\n"}])
    expect(page.locator("#preview-error")).to_contain_text("no tel1 column")
    expect(page.get_by_role("button", name="Upload and import")).to_be_disabled()
    shoot(page, "04-fatal-preview")

    # a readable file with an unknown column and an empty variable: warned, and the button comes back
    page.set_input_files("#id_file", files=[{"name": "ok.csv", "mimeType": "text/csv",
                                              "buffer": f"tel1,Amount,$flow.key.name\n{phone(1)},10,\n".encode()}])
    expect(page.locator("#preview-warnings")).to_contain_text("The column “Amount” is not a column we know")
    expect(page.locator("#preview-warnings")).to_contain_text("$flow.key.name is empty in 1 of the first 1 row")
    expect(page.get_by_role("button", name="Upload and import")).to_be_enabled()
    shoot(page, "10-preview-warnings")

    # the refused list is archived: it leaves the attention list, its data stays
    page.goto(f"{live_server.url}/lists/{refused.pk}/")
    page.get_by_role("button", name="Archive this list").click()
    expect(page.locator(".messages")).to_contain_text("archived")
    page.goto(f"{live_server.url}/")
    expect(page.locator("main")).not_to_contain_text("broken.csv")
    assert ContactList.objects.filter(pk=refused.pk).exists()


def test_10_a_test_call_on_a_flow_not_activated_asks_first_and_is_listed_apart(page, live_server, acme, shoot):
    Flow.objects.filter(pk=acme["flow"].pk).update(activated_at=None)
    log_in(page, live_server)

    page.goto(f"{live_server.url}/flows/{acme['flow'].pk}/")
    expect(page.locator("#not-activated-note")).to_be_visible()
    page.get_by_label("Number to call").fill(phone(5))
    page.get_by_role("button", name="Send the test call").click()
    expect(page.locator("main")).to_contain_text("Tick the box to call anyway")
    assert not Campaign.objects.exists()
    shoot(page, "10-test-call-confirm")
    page.get_by_label("Call anyway").check()
    page.get_by_role("button", name="Send the test call").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+/$"))

    page.goto(f"{live_server.url}/campaigns/")
    expect(page.locator("main")).not_to_contain_text("Test call ZH0RKJvh")
    page.goto(f"{live_server.url}/lists/")
    expect(page.locator("#lists-table")).not_to_contain_text("Test call to")
    page.goto(f"{live_server.url}/flows/{acme['flow'].pk}/")
    expect(page.locator("#test-calls")).to_contain_text("Test call ZH0RKJvh")


# 5. Time zones ----------------------------------------------------------------------------------------------


def test_5_times_carry_their_zone_and_the_zone_menu_is_searchable_without_aliases(page, live_server, acme, shoot):
    contact_list = make_contact_list(acme["flow"], 3, name="London list")
    log_in(page, live_server)
    page.goto(f"{live_server.url}/lists/{contact_list.pk}/launch/")

    zones = page.locator("#zone-names option").evaluate_all("options => options.map(o => o.value)")
    assert "Asia/Kolkata" in zones and "Europe/London" in zones
    assert "Asia/Calcutta" not in zones and "Asia/Saigon" not in zones
    page.get_by_label("Time zone").fill("Europe/London")
    page.get_by_label("Start time").fill("2030-12-02T14:30")
    page.get_by_role("button", name="Review the launch").click()
    expect(page.locator("#review-start")).to_have_text("2 Dec 2030, 14:30 Europe/London (14:30 UTC)")
    expect(page.locator("#review-window")).to_contain_text("09:00–21:00 Europe/London")
    shoot(page, "05-zones-review")
    page.get_by_role("button", name="Confirm and launch").click()
    expect(page.locator("#status-times")).to_contain_text("2 Dec 2030, 14:30 Europe/London")


# 6. Lists and campaigns as tools ------------------------------------------------------------------------------


def test_6_campaigns_can_be_searched_and_filtered_and_status_stays_visible_on_a_phone(page, live_server, acme, shoot):
    for index, name in enumerate(["Renewals north", "Renewals south", "Collections"]):
        campaign_of(make_contact_list(acme["flow"], 2, first=index * 10, name=f"{name} list"),
                    status=Campaign.Status.RUNNING, name=name)
    log_in(page, live_server)

    page.goto(f"{live_server.url}/campaigns/")
    page.get_by_label("Search by name").fill("renewals")
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("#campaigns-table tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_label("Sort by").select_option("name")
    page.get_by_role("button", name="Apply").click()
    expect(rows.first).to_contain_text("Renewals north")
    expect(page.locator("#campaigns-table thead")).to_contain_text("Placed")
    assert page.locator("#campaigns-table[hx-trigger]").count() == 1  # refreshes itself

    page.set_viewport_size(PHONE)
    status_box = page.locator("#campaigns-table tbody tr").first.locator(".badge").first.bounding_box()
    progress_box = page.locator("#campaigns-table tbody tr").first.locator(".progress").bounding_box()
    assert status_box["x"] + status_box["width"] <= 390 and progress_box["x"] + progress_box["width"] <= 390
    shoot(page, "06-campaigns-filtered")
    page.goto(f"{live_server.url}/lists/?q=north")
    expect(page.locator("#lists-table tbody tr")).to_have_count(1)
    shoot(page, "06-lists-filtered")


# 7. Exports a manager can use -------------------------------------------------------------------------------


def test_7_results_name_the_campaign_and_rejected_rows_upload_again_once_fixed(page, live_server, acme, shoot,
                                                                             media_root):
    campaign = campaign_of(make_contact_list(acme["flow"], 4, name="June list"), status=Campaign.Status.RUNNING,
                           name="June reminders")
    finish(campaign, rejected=1)
    bad = ContactList.objects.create(flow=acme["flow"], name="bad rows", status=ContactList.Status.IMPORTED,
                                     imported_count=1, rejected_count=1, header=["tel1", "$flow.key.name"])
    RejectedRow.objects.create(contact_list=bad, line=3, column="tel1", value="12345",
                               reason="tel1 is not a phone number.", raw=["12345", "Ravi"])
    log_in(page, live_server)

    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download results (CSV)").click()
    assert re.fullmatch(r"june-reminders_\d{4}-\d{2}-\d{2}_results\.csv", download.value.suggested_filename)
    rows = list(csv.DictReader(open(download.value.path(), newline="")))
    assert {row["campaign"] for row in rows} == {"June reminders"}
    assert all(row["sent_at"] and row["$flow.key.name"].startswith("Customer") for row in rows)
    assert {row["result"].split(":")[0] for row in rows} == {"Placed", "Rejected"}

    page.goto(f"{live_server.url}/lists/{bad.pk}/")
    with page.expect_download() as report:
        page.get_by_role("link", name=re.compile("Download the rejected-rows report")).click()
    lines = list(csv.reader(open(report.value.path(), newline="")))
    assert lines == [["tel1", "$flow.key.name", "rejected_line", "rejected_column", "rejected_reason"],
                     ["12345", "Ravi", "3", "tel1", "tel1 is not a phone number."]]
    shoot(page, "07-list-with-rejected-rows")


# 8. The chart over the campaign's whole life ----------------------------------------------------------------


def test_8_a_finished_campaign_keeps_a_chart_of_its_whole_life_with_axes(page, live_server, acme, shoot, settings):
    settings.PHONON_REALTIME_RATE = "3/60"  # near this small campaign's pace: the limit line is on the scale
    campaign = campaign_of(make_contact_list(acme["flow"], 20, name="Small list"), status=Campaign.Status.RUNNING,
                           name="Small campaign")
    finish(campaign, minutes=40)
    log_in(page, live_server)

    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    chart = page.locator("#campaign-chart")
    expect(chart.locator("rect.bar")).not_to_have_count(0)
    expect(chart.locator("text.tick").first).to_be_visible()
    expect(chart.locator(".limit-label")).to_have_text("allowed up to 3/min")
    expect(page.locator("#chart-summary")).to_contain_text("20 calls accepted from")
    shoot(page, "08-chart-finished")


# 9. Words for people ----------------------------------------------------------------------------------------


def test_9_the_launch_form_speaks_plainly_and_answers_with_our_own_messages(page, live_server, acme, shoot):
    contact_list = make_contact_list(acme["flow"], 1, name="One")
    log_in(page, live_server)
    page.goto(f"{live_server.url}/lists/{contact_list.pk}/")

    expect(page.get_by_role("heading", name="Launch a campaign with this contact")).to_be_visible()
    expect(page.get_by_label("Batch size")).to_be_hidden()  # behind "Advanced"
    page.get_by_text("Advanced: batch size and flow version").click()
    page.get_by_label("Batch size").fill("501")
    page.get_by_label("Calling window from").fill("9am")
    page.get_by_role("button", name="Review the launch").click()
    main = page.locator("main")
    expect(main).to_contain_text("The provider takes at most 500 calls in one request")
    expect(main).to_contain_text("Write the time as HH:MM on a 24-hour clock")
    expect(main).not_to_contain_text("Ensure this value")
    expect(main).not_to_contain_text("This field is required")
    shoot(page, "09-form-messages")

    campaign = campaign_of(contact_list, status=Campaign.Status.RUNNING, name="Words")
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    expect(page.locator(".o-placed .explain")).to_contain_text("not that the customer answered")
    expect(page.locator("#progress-text")).to_contain_text("of 1 call to send sent")


# Accessibility: axe-core on every page, no serious or critical violation ------------------------------------


def test_every_page_has_no_serious_or_critical_accessibility_violation(page, live_server, acme, media_root):
    contact_list = make_contact_list(acme["flow"], 4, name="Axe list")
    running = campaign_of(contact_list, status=Campaign.Status.RUNNING, name="Axe running")
    finished = campaign_of(make_contact_list(acme["flow"], 4, first=40, name="Axe done"),
                           status=Campaign.Status.RUNNING, name="Axe finished")
    finish(finished, rejected=1)
    log_in(page, live_server)
    base = live_server.url
    pages = ["/", "/flows/", f"/flows/{acme['flow'].pk}/", "/lists/", f"/lists/{contact_list.pk}/",
             f"/lists/{contact_list.pk}/launch/", "/campaigns/", "/campaigns/?show=tests",
             f"/campaigns/{running.pk}/", f"/campaigns/{finished.pk}/", f"/campaigns/{running.pk}/edit/",
             f"/campaigns/{running.pk}/duplicate/", f"/campaigns/{running.pk}/cancel/"]
    problems = {}
    for size in (WIDE, PHONE):
        page.set_viewport_size(size)
        for path in pages:
            page.goto(base + path)
            problems.update(_axe(page, f"{path} at {size['width']}px"))
        # the review page is reached by a POST
        page.goto(f"{base}/lists/{contact_list.pk}/launch/")
        page.get_by_role("button", name="Review the launch").click()
        expect(page.get_by_role("heading", name="Review the launch")).to_be_visible()
        problems.update(_axe(page, f"review at {size['width']}px"))
    page.get_by_role("button", name="Log out").click()
    problems.update(_axe(page, "login"))
    assert not problems, problems


def _axe(page, where) -> dict:
    # Served by our own static files, so the page's Content-Security-Policy allows it.
    page.add_script_tag(url=f"{page.url.split('/', 3)[0]}//{page.url.split('/', 3)[2]}/static/vendor/axe.min.js")
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ["violations"]});
        return r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
            .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", ")}`);
    }""")
    return {where: result} if result else {}


assert AXE.is_file(), "static/vendor/axe.min.js is the vendored axe-core the accessibility check injects"
