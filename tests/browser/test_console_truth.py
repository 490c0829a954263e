"""Issue 28, points 1-7, in a real browser at 1366 and 390 px: row start times kept inside the
calling window, a window across midnight said in words and confirmed, a review that counts what
planning skips, a failing provider that says so, one finishing estimate, waiting for the window,
and a cancel that says what was never sent. axe-core on every page touched: no serious or
critical finding. Screenshots go to test-artifacts/screenshots/truth-*.

alice manages the Acme account.
"""

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.donotcall.lists import dnc_entries_add, dnc_own_list
from campaigns.models import Campaign, Contact
from dialer import campaign_actions, ratelimit, settling
from dialer.models import Batch, BatchAttempt, Call
from dialer.planning import campaign_plan
from dialer.tallies import calls_moved, calls_recount
from flows.models import DID, Account, Flow
from tests.factories import make_contact_list, phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-browser-test-password"
WIDE = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
IST = ZoneInfo("Asia/Kolkata")


@pytest.fixture
def acme():
    alice = get_user_model().objects.create_user("alice", password=PASSWORD)
    account = Account.objects.create(name="Acme Lending", client_id="C129113")
    account.managers.add(alice)
    flow = Flow.objects.create(
        account=account,
        flow_id="ZH0RKJvh",
        name="Payment reminders",
        security_id="acme-security-id-0001",
        activated_at=timezone.now(),
    )
    DID.objects.create(flow=flow, number="918045678901")
    return {"alice": alice, "account": account, "flow": flow}


@pytest.fixture
def look(artifacts_dir):
    """look(page, name): full-page screenshots at 1366 and 390 px, and axe-core at both widths;
    returns the serious or critical findings."""
    folder = artifacts_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def run(page, name) -> dict:
        found = {}
        for label, size in (("1366", WIDE), ("390", PHONE)):
            page.set_viewport_size(size)
            page.screenshot(path=folder / f"truth-{name}-{label}.png", full_page=True)
            found.update(axe(page, f"{name} at {label}px"))
        page.set_viewport_size(WIDE)
        return found

    return run


def axe(page, where) -> dict:
    """Serious or critical axe-core findings on the page (axe vendored in static/vendor)."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        origin = "/".join(page.url.split("/", 3)[:3])
        page.add_script_tag(url=f"{origin}/static/vendor/axe.min.js")
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ["violations"]});
        return r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
            .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", ")}`);
    }""")
    return {where: found} if found else {}


def log_in(page, live_server):
    page.set_viewport_size(WIDE)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")


def open_review(page, live_server, contact_list, *, start="09:00", end="21:00"):
    page.goto(f"{live_server.url}/lists/{contact_list.pk}/launch/")
    page.get_by_label("Calling window from").fill(start)
    page.get_by_label("Calling window until").fill(end)
    page.get_by_role("button", name="Review the launch").click()
    expect(page.get_by_role("heading", name="Review the launch")).to_be_visible()


def running(contact_list, name, **options):
    options.setdefault("window", "00:00-24:00")
    campaign = campaign_actions.campaign_create(contact_list=contact_list, name=name, batch_size=100, **options)
    campaign_plan(campaign_id=campaign.pk)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.RUNNING, started_at=timezone.now() - datetime.timedelta(minutes=5)
    )
    campaign.refresh_from_db()
    return campaign


def accept(campaign, batches: int, *, minutes_ago=1):
    """The campaign's first `batches` requests accepted by the provider `minutes_ago`."""
    placed = 0
    for batch in Batch.objects.filter(campaign=campaign).order_by("sequence")[:batches]:
        attempt = BatchAttempt.objects.create(batch=batch, number=1, outcome="answered", response_code=200)
        BatchAttempt.objects.filter(pk=attempt.pk).update(
            created_at=timezone.now() - datetime.timedelta(minutes=minutes_ago)
        )
        placed += Call.objects.filter(batch=batch).update(state=Call.State.PLACED)
        Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.PLACED)
    calls_moved(campaign_id=campaign.pk, moves={(Call.State.PENDING, Call.State.PLACED): placed})


# 1. Row start times stay inside the calling window --------------------------------------------------------


def test_1_rows_with_their_own_start_time_are_counted_moved_or_skipped_and_listed_for_later(
    page, live_server, acme, look
):
    # given a list of 10 whose rows start two days ahead: 3 at 06:00 (before the window), 7 at 11:00
    day = timezone.now().astimezone(IST).date() + datetime.timedelta(days=2)
    contact_list = make_contact_list(acme["flow"], 10, name="Own start times")
    ids = list(contact_list.contacts.order_by("id").values_list("pk", flat=True))
    Contact.objects.filter(pk__in=ids[:3]).update(start_at=datetime.datetime.combine(day, datetime.time(6), IST))
    Contact.objects.filter(pk__in=ids[3:]).update(start_at=datetime.datetime.combine(day, datetime.time(11), IST))
    log_in(page, live_server)

    # when alice reviews a launch with the window 09:00-21:00
    open_review(page, live_server, contact_list)

    # then the review counts them, and she chooses to skip the 3 outside the window
    expect(page.locator("#review-start-times")).to_have_text(
        "10 rows have their own start time; 3 fall outside the window."
    )
    expect(page.get_by_label("Move them to the window's next opening")).to_be_checked()
    problems = look(page, "01-review-own-start-times")
    page.get_by_label("Do not call them").check()
    page.get_by_role("button", name="Count again").click()
    expect(page.locator("#review-skips")).to_contain_text("3 start time outside the calling window")
    expect(page.locator("#review-who")).to_contain_text("7 contacts")
    page.get_by_role("button", name="Confirm and launch").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+/$"))
    campaign = Campaign.objects.get()
    assert campaign.outside_window == Campaign.OutsideWindow.SKIP

    # and once the provider has accepted the 7, the campaign's page lists them as scheduled for later
    campaign_plan(campaign_id=campaign.pk)
    accept(Campaign.objects.get(pk=campaign.pk), 1)
    settling.campaign_complete_if_done(campaign_id=campaign.pk)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.COMPLETED, finished_at=timezone.now())
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    expect(page.locator("#scheduled-later")).to_contain_text(f"7 at {day.day} {day:%b %Y}, 11:00 IST")
    expect(page.locator("#status-detail")).to_contain_text("7 calls are scheduled at the provider for later")
    problems.update(look(page, "01-campaign-scheduled-later"))
    assert not problems, problems


# 2. A window across midnight, and hours outside 09:00-21:00 for Indian numbers ------------------------------


def test_2_a_window_across_midnight_is_said_in_words_and_must_be_confirmed(page, live_server, acme, look):
    contact_list = make_contact_list(acme["flow"], 5, name="Night list")
    log_in(page, live_server)

    open_review(page, live_server, contact_list, start="21:30", end="21:00")

    expect(page.locator("#review-window")).to_contain_text("from 21:30 until 21:00 the next day, 23 h 30 min")
    overnight = page.get_by_label(re.compile("it crosses midnight"))
    indian = page.get_by_label(re.compile("Calls to Indian numbers may go out only from 09:00 to 21:00"))
    expect(overnight).not_to_be_checked()
    expect(indian).to_be_visible()
    page.get_by_role("button", name="Confirm and launch").click()
    expect(page.locator("main")).to_contain_text("Tick this box to launch anyway.")
    assert not Campaign.objects.exists()
    problems = look(page, "02-review-overnight")
    page.get_by_label(re.compile("it crosses midnight")).check()
    page.get_by_label(re.compile("Calls to Indian numbers may go out only")).check()
    page.get_by_role("button", name="Confirm and launch").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+/$"))
    campaign = Campaign.objects.get()
    assert campaign.window_start == datetime.time(21, 30)

    # and editing it to another window across midnight asks again, in words
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/edit/")
    page.get_by_label("Calling window from").fill("22:00")
    page.get_by_label("Calling window until").fill("06:00")
    page.get_by_role("button", name="Save the changes").click()
    expect(page.locator("#window-confirmations")).to_contain_text("from 22:00 until 06:00 the next day, 8 h")
    problems.update(look(page, "02-edit-overnight"))
    page.get_by_label(re.compile("it crosses midnight")).check()
    page.get_by_label(re.compile("Calls to Indian numbers may go out only")).check()
    page.get_by_role("button", name="Save the changes").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+/$"))
    campaign.refresh_from_db()
    assert (campaign.window_start, campaign.window_end) == (datetime.time(22), datetime.time(6))
    assert not problems, problems


# 3. The review counts what planning then skips, one line per reason ---------------------------------------


def test_3_the_review_gives_one_line_per_skip_reason_and_will_call_means_what_will_be_sent(
    page, live_server, acme, look
):
    # given 3 numbers on the do-not-call list and 4 called an hour ago (the cap: 1 call a day)
    flow = acme["flow"]
    dnc_entries_add(dnc_list=dnc_own_list(account=acme["account"]), numbers=[phone(i) for i in range(3)])
    earlier = running(make_contact_list(flow, 4, first=3, name="This morning"), "This morning")
    accept(earlier, 1, minutes_ago=60)
    Campaign.objects.filter(pk=earlier.pk).update(status=Campaign.Status.COMPLETED, finished_at=timezone.now())
    contact_list = make_contact_list(flow, 12, name="Afternoon")
    log_in(page, live_server)

    open_review(page, live_server, contact_list)

    skips = page.locator("#review-skips")
    expect(skips).to_contain_text("4 over the dialling cap (1 call per 1 day)")
    expect(skips).to_contain_text("3 on the do-not-call list")
    expect(page.locator("#review-who")).to_contain_text("5 contacts")
    # unticking "skip the already called" does not lift the cap or the list
    page.get_by_label("Skip the contacts already called").uncheck()
    page.get_by_role("button", name="Count again").click()
    expect(page.locator("#review-who")).to_contain_text("5 contacts")
    problems = look(page, "03-review-skip-reasons")
    page.get_by_role("button", name="Confirm and launch").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+/$"))
    campaign = Campaign.objects.exclude(pk=earlier.pk).get()
    campaign_plan(campaign_id=campaign.pk)
    assert Call.objects.filter(campaign=campaign, state=Call.State.PENDING).count() == 5
    assert not problems, problems


# 4. A failing provider looks like one --------------------------------------------------------------------


def test_4_a_failing_provider_says_retrying_on_the_page_and_the_dashboard(page, live_server, acme, look):
    campaign = running(make_contact_list(acme["flow"], 600, name="Retry list"), "Reminders")
    next_try = timezone.now() + datetime.timedelta(minutes=3)
    for batch in Batch.objects.filter(campaign=campaign).order_by("sequence")[:4]:
        BatchAttempt.objects.create(batch=batch, number=1, outcome="http_error", http_status=500)
        Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.RETRY_WAIT, attempts=1, next_attempt_at=next_try)
    log_in(page, live_server)

    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    headline = (
        f"Retrying: the provider answered 500 to the last 4 requests (attempt 1 of 8), next try at "
        f"{next_try.astimezone(IST):%H:%M} IST"
    )
    expect(page.locator("#status-headline")).to_have_text(headline)
    expect(page.locator("#chart-summary")).to_contain_text("No call has been accepted yet.")
    expect(page.locator("#finish-estimate")).to_have_count(0)  # no finishing time while it fails
    problems = look(page, "04-campaign-retrying")
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("heading", name=re.compile("Needs your attention"))).to_be_visible()
    expect(page.locator(".problem-list")).to_contain_text(headline)
    problems.update(look(page, "04-dashboard-retrying"))
    assert not problems, problems


# 5. One finishing estimate, the limit labelled "allowed up to" ------------------------------------------------


def test_5_the_page_and_its_live_fragment_give_one_finishing_time_from_the_pace_measured(
    page, live_server, acme, look, settings
):
    settings.PHONON_REALTIME_RATE = "600/60"
    settings.PHONON_RATE_MARGIN = 0
    settings.PHONON_SHARE_IDLE_SECONDS = 600  # the campaigns stay among the asking while the test reads
    flow = acme["flow"]
    high = running(make_contact_list(flow, 3000, name="High list"), "Renewals", priority="high")
    low = running(make_contact_list(flow, 3000, first=5000, name="Low list"), "Surveys", priority="low")
    for campaign, batches in ((high, 9), (low, 6)):
        accept(campaign, batches)
        ratelimit.campaign_asking(
            endpoint=flow.endpoint,
            account_client_id=flow.account.client_id,
            campaign=str(campaign.pk),
            weight=campaign.weight,
            calls=100,
        )
    log_in(page, live_server)

    page.goto(f"{live_server.url}/campaigns/{low.pk}/")
    share = page.locator("#share")
    expect(share).to_contain_text("Allowed up to 120 calls/min, 1/5 of the account's limit")
    finish = page.locator("#finish-estimate").inner_text()
    page.wait_for_timeout(2500)  # the live fragment has polled again
    expect(page.locator("#finish-estimate")).to_have_text(finish)
    problems = look(page, "05-campaign-one-estimate")
    assert not problems, problems


# 6. Waiting for the window is not running --------------------------------------------------------------------


def test_6_a_campaign_outside_its_window_waits_and_says_when_it_starts(page, live_server, acme, look):
    today = timezone.now().astimezone(IST).weekday()
    campaign = running(
        make_contact_list(acme["flow"], 40, name="Tomorrow list"), "Tomorrow morning", window_days=[(today + 1) % 7]
    )
    log_in(page, live_server)

    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    expect(page.locator("#status-headline")).to_contain_text(re.compile(r"Waiting for the window: starts .* IST \(in "))
    expect(page.locator("#progress-text")).to_contain_text("0 of 40 calls to send sent")
    problems = look(page, "06-campaign-waiting")
    page.goto(f"{live_server.url}/")
    active = page.locator("section[aria-labelledby=active-h]")
    expect(active).to_contain_text("Waiting for the window: starts")
    expect(active.locator("td").last).to_contain_text(re.compile(r"\d+ \w{3} 00:00 IST \(in "))
    expect(active).not_to_contain_text("at once", ignore_case=True)
    problems.update(look(page, "06-dashboard-waiting"))
    assert not problems, problems


# 7. A cancelled campaign says what was placed and what was never sent ---------------------------------------


def test_7_a_cancelled_campaign_says_placed_and_not_sent(page, live_server, acme, look):
    campaign = running(make_contact_list(acme["flow"], 400, name="Cancel list"), "Cancelled run")
    accept(campaign, 1)
    campaign_actions.campaign_cancel(campaign=campaign)
    calls_recount()
    log_in(page, live_server)

    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")

    expect(page.locator("#status-headline")).to_have_text("Cancelled: 100 placed, 300 not sent (cancelled)")
    expect(page.locator("#progress-text")).to_contain_text("100 placed, 300 not sent (cancelled)")
    expect(page.locator("#campaign-live")).not_to_contain_text("100%")
    expect(page.locator("#campaign-live .progress")).to_have_attribute("aria-valuenow", "25")
    problems = look(page, "07-campaign-cancelled")
    assert not problems, problems
