"""Issue 30 in a real browser at 1366 and 390 px: redial rules in the launch form and the review,
what people pressed (the results table), and the best-time chart; axe-core finds no serious or
critical problem on those pages. Screenshots go to test-artifacts/screenshots/redials-*."""

# ruff: noqa: F811 - the console tests' fixtures (acme, shoot) are imported, then asked for by name

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from campaigns.models import Campaign, ContactList
from dialer.models import Call
from dialer.redials.tasks import best_time_compute_task
from tests.browser.test_console import PHONE, WIDE, _axe, acme, campaign_of, log_in, shoot  # noqa: F401
from tests.factories import make_contact_list

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KEYS = ["1", "1", "2", "12", "", "9", "1", "2"]


def fits(page, selector) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"] + 1


@pytest.fixture
def surveyed(acme):
    """A finished campaign whose answered calls pressed keys, called yesterday between 10:00 and 17:00."""
    campaign = campaign_of(
        make_contact_list(acme["flow"], len(KEYS), name="Survey list"),
        status=Campaign.Status.COMPLETED,
        name="Appointment check",
        key_labels="1=confirmed, 2=cancel",
    )
    day = (timezone.now().astimezone(ZoneInfo("Asia/Kolkata")) - datetime.timedelta(days=1)).date()
    for index, (call, keys) in enumerate(
        zip(Call.objects.filter(campaign=campaign).order_by("contact_id"), KEYS, strict=True)
    ):
        at = datetime.datetime.combine(day, datetime.time(10 + index, 5), tzinfo=ZoneInfo("Asia/Kolkata"))
        Call.objects.filter(pk=call.pk).update(
            state=Call.State.PLACED,
            phonon_uuid=f"u{index}",
            keys=keys,
            outcome="answered" if keys else "busy",
            outcome_at=at,
        )
    return campaign


def test_the_rules_are_set_in_the_launch_form_and_the_review_says_what_they_add(page, live_server, acme, shoot):
    acme["account"].__class__.objects.filter(pk=acme["account"].pk).update(calls_per_number=2)
    contact_list = make_contact_list(acme["flow"], 6, name="Redial list")
    log_in(page, live_server)
    for size in (WIDE, PHONE):
        page.set_viewport_size(size)
        page.goto(f"{live_server.url}/lists/{contact_list.pk}/launch/")
        expect(page.get_by_role("group", name="Call again who was not reached")).to_be_visible()
        assert fits(page, "#redial-fields"), f"the rules overflow at {size['width']} px"
        page.get_by_label("Attempts per contact").fill("3")
        page.get_by_label("Call again after").fill("30m")
        page.get_by_label("Keys in words").fill("1=confirmed, 2=cancel")
        page.get_by_role("button", name="Review the launch").click()
        redials = page.locator("#review-redials")
        expect(redials).to_contain_text("Busy or no answer: called again 30m after, up to 3 attempts in all")
        expect(redials).to_contain_text("At most 6 more calls")
        expect(page.locator("#review-redials-cap")).to_contain_text("stops each contact after 2 calls")
        assert fits(page, "#review-redials")
        shoot(page, f"redials-review-{size['width']}")
    page.get_by_role("button", name="Confirm and launch").click()
    expect(page.locator("#campaign-redials")).to_contain_text("Busy or no answer: called again 30m after")
    campaign = Campaign.objects.get(name__startswith="Redial list")
    assert (campaign.max_attempts, campaign.redial_after_seconds, campaign.key_labels) == (
        3,
        1800,
        "1=confirmed, 2=cancel",
    )


def test_a_bad_delay_is_explained_beside_its_field(page, live_server, acme):
    contact_list = make_contact_list(acme["flow"], 2, name="Typo list")
    log_in(page, live_server)
    page.goto(f"{live_server.url}/lists/{contact_list.pk}/launch/")
    page.get_by_label("Attempts per contact").fill("2")
    page.get_by_label("Call again after").fill("soon")
    page.get_by_role("button", name="Review the launch").click()
    expect(page.get_by_text("Write a redial delay as 90s, 30m, 2h or 1d")).to_be_visible()
    assert not Campaign.objects.exists()


def test_the_results_table_shows_words_and_lists_the_contacts_of_one_answer(page, live_server, surveyed, shoot):
    log_in(page, live_server)
    for size in (WIDE, PHONE):
        page.set_viewport_size(size)
        page.goto(f"{live_server.url}/campaigns/{surveyed.pk}/")
        first = page.locator("#survey-q1")
        expect(first).to_be_visible()
        expect(first.get_by_role("rowheader").first).to_contain_text("confirmed")
        expect(page.locator("#survey-q2")).to_contain_text("cancel")
        assert fits(page, "#survey"), f"the results overflow at {size['width']} px"
        shoot(page, f"redials-survey-{size['width']}")
    page.set_viewport_size(WIDE)
    page.locator("#survey-q1 a", has_text="Calls").first.click()
    expect(page.locator("#search-summary")).to_contain_text("whose person pressed 1")
    page.locator("#survey-q1").get_by_role("button", name="List these contacts…").first.click()
    chosen = ContactList.objects.get(source=ContactList.Source.RETRY)
    assert chosen.imported_count == 4 and "confirmed" in chosen.name
    page.wait_for_url(f"**/lists/{chosen.pk}/launch/**")


def test_the_best_time_chart_is_drawn_and_fits_a_phone(page, live_server, surveyed, shoot):
    # computed by a worker, as a page asks (dialer.redials.best_time_results): here at once
    for zone in (surveyed.timezone, settings.PHONON_TIMEZONE):
        best_time_compute_task(surveyed.flow.account_id, zone, 28)
    log_in(page, live_server)
    for size in (WIDE, PHONE):
        page.set_viewport_size(size)
        page.goto(f"{live_server.url}/campaigns/{surveyed.pk}/")
        chart = page.locator("#best-hours")
        expect(chart).to_be_visible()
        assert chart.locator("rect.bar").count() == 24
        assert fits(page, "#best-hours") and fits(page, "#best-weekdays")
        box = chart.bounding_box()
        assert box["height"] > 40, "the chart is drawn at a readable height"
        shoot(page, f"redials-best-time-{size['width']}")
        page.goto(f"{live_server.url}/")
        expect(page.locator("#best-hours1")).to_be_visible()


def test_the_redial_pages_have_no_serious_or_critical_accessibility_violation(page, live_server, acme, surveyed):
    contact_list = make_contact_list(acme["flow"], 3, first=100, name="Axe redials")
    log_in(page, live_server)
    problems = {}
    for size in (WIDE, PHONE):
        page.set_viewport_size(size)
        for path in (f"/campaigns/{surveyed.pk}/", f"/lists/{contact_list.pk}/launch/", "/"):
            page.goto(live_server.url + path)
            problems.update(_axe(page, f"{path} at {size['width']}px"))
        page.goto(f"{live_server.url}/lists/{contact_list.pk}/launch/")
        page.get_by_label("Attempts per contact").fill("3")
        page.get_by_role("button", name="Review the launch").click()
        expect(page.locator("#review-redials")).to_be_visible()
        problems.update(_axe(page, f"review with redials at {size['width']}px"))
    assert not problems, problems
