"""Every page works under the Content-Security-Policy: no inline script or style anywhere, htmx
without eval, the upload preview, the copy button and the live polling still running. The `page`
fixture fails a test on any violation the browser reports, or any page sent without the policy.

alice manages Acme; root is an admin.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from campaigns.models import Campaign
from dialer.models import Call
from dialer.tallies import calls_recount
from tests.factories import make_contact_list, make_flow, phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-browser-test-password"
# What the served HTML would need 'unsafe-inline' for: a script without src (JSON data blocks are
# not run), a <style> element, a style attribute. (Scripts may set styles: the policy allows that.)
INLINE = re.compile(r"""<script(?![^>]*\b(?:src=|type="application/json"))[^>]*>|<style\b|\sstyle=""", re.IGNORECASE)


@pytest.fixture
def acme():
    User = get_user_model()
    alice = User.objects.create_user("alice", password=PASSWORD)
    User.objects.create_superuser("root", "root@example.com", PASSWORD)
    flow = make_flow(name="Payment reminders")
    flow.account.managers.add(alice)
    contact_list = make_contact_list(flow, 5, name="Acme list")
    campaign = Campaign.objects.create(name="Acme campaign", contact_list=contact_list, flow=flow,
                                       token="CSPTEST001", status=Campaign.Status.SCHEDULED)
    return {"flow": flow, "list": contact_list, "campaign": campaign}


def log_in(page, url, username):
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def visit(page, url):
    response = page.goto(url)
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert INLINE.findall(response.text()) == [], f"inline script or style on {url}"
    return response


def test_every_page_works_under_the_policy(page, live_server, acme, media_root):
    base = live_server.url

    # the login page, and htmx configured without eval, script tags or injected styles
    visit(page, f"{base}/login/")
    log_in(page, f"{base}/login/", "alice")
    page.wait_for_url(f"{base}/")
    assert page.evaluate("[htmx.config.allowEval, htmx.config.allowScriptTags, htmx.config.includeIndicatorStyles]") \
        == [False, False, False]

    # every page of the manager, each without an inline script or style
    for path in ("/", "/flows/", f"/flows/{acme['flow'].pk}/", "/lists/", f"/lists/{acme['list'].pk}/",
                 "/campaigns/", f"/campaigns/{acme['campaign'].pk}/cancel/"):
        visit(page, base + path)
    assert visit(page, f"{base}/campaigns/999999/").status == 404

    # the copy button (app.js) works
    visit(page, f"{base}/flows/{acme['flow'].pk}/")
    page.get_by_role("button", name="Copy the message").click()
    expect(page.get_by_role("status").filter(has_text="Copied")).to_have_count(1)

    # the upload preview (fetch) works
    visit(page, f"{base}/lists/")
    page.wait_for_selector("html[data-js=ready]", state="attached")
    page.set_input_files("#id_file", files=[{
        "name": "small.csv", "mimeType": "text/csv", "buffer": f"tel1\n{phone(1)}\n".encode(),
    }])
    expect(page.locator("#preview-table")).to_contain_text(phone(1))

    # the live part of a campaign is polled and swapped in by htmx
    visit(page, f"{base}/campaigns/{acme['campaign'].pk}/")
    with page.expect_response(re.compile(r"/campaigns/\d+/live/$")) as poll:
        pass
    assert poll.value.status == 200
    expect(page.locator("#campaign-live .badge")).to_have_text("Scheduled")
    expect(page.locator("#campaign-live .progress-rect")).to_have_attribute("width", "0")  # an SVG attribute

    # the admin, as root
    page.get_by_role("button", name="Log out").click()
    log_in(page, f"{base}/admin/login/?next=/admin/", "root")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    visit(page, f"{base}/admin/")
    visit(page, f"{base}/admin/flows/flow/{acme['flow'].pk}/change/")
    visit(page, f"{base}/admin/auth/user/")


def test_progress_bars_and_the_lockout_page_render_under_the_policy(page, live_server, acme, media_root):
    base = live_server.url
    # given a running campaign with two of its five calls placed
    campaign = acme["campaign"]
    campaign.status = Campaign.Status.RUNNING
    campaign.save()
    Call.objects.bulk_create(
        Call(campaign=campaign, contact=contact, client_identifier=f"CSPTEST001-{contact.pk}",
             state=Call.State.PLACED if index < 2 else Call.State.PENDING)
        for index, contact in enumerate(acme["list"].contacts.order_by("pk"))
    )
    calls_recount()

    # a campaign's progress is drawn with an SVG attribute, not a style
    log_in(page, f"{base}/login/", "alice")
    page.wait_for_url(f"{base}/")
    visit(page, f"{base}/campaigns/")
    expect(page.locator(".progress-rect")).to_have_attribute("width", "40")

    # after five wrong passwords the page that says to wait is shown, under the policy too
    page.get_by_role("button", name="Log out").click()
    for attempt in range(5):
        log_in(page, f"{base}/login/", f"made-up-{attempt}")
    expect(page.get_by_role("heading", name="Too many failed logins")).to_be_visible()
    assert INLINE.findall(page.content()) == []
