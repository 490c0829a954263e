"""A campaign manager's day in a real browser: upload by drag and drop, watch the import, launch,
pause and resume against a real worker and the sandbox, download the results. And what a
manager may not open.

alice and bob manage the Acme account; charlie manages Globex.
"""

import csv
import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from campaigns.models import Campaign, ContactList
from dialer.models import Call
from flows.models import DID, Account, Flow
from tests.factories import make_contact_list, phone
from tests.processes import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-browser-test-password"
CONTACTS = 1000


@pytest.fixture
def world():
    User = get_user_model()
    acme = Account.objects.create(name="Acme Lending", client_id="C129113")
    globex = Account.objects.create(name="Globex", client_id="C555001")
    users = {name: User.objects.create_user(name, password=PASSWORD) for name in ("alice", "bob", "charlie")}
    acme.managers.add(users["alice"], users["bob"])
    globex.managers.add(users["charlie"])
    flow = Flow.objects.create(account=acme, flow_id="ZH0RKJvh", name="Payment reminders",
                               security_id="acme-security-id-0001")
    DID.objects.create(flow=flow, number="918045678901")
    Flow.objects.create(account=globex, flow_id="GLBXflw1", name="Globex calls", security_id="globex-0002")
    return {**users, "acme": acme, "globex": globex, "flow": flow}


def call_list_csv(rows: int) -> str:
    lines = ["tel1,tel2,$flow.key.name"]
    lines += [f"{phone(index)},{phone(50_000 + index)},Customer {index}" for index in range(rows)]
    lines.insert(11, "12345,,Too short")  # rejected: not a phone number
    lines.insert(21, f"{phone(3)},,Repeated")  # rejected: tel1 already in the list
    return "\n".join(lines) + "\n"


def log_in(page, live_server, username):
    """With the keyboard, as a person would: type, Tab, type, Enter."""
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").focus()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/")


def drop_file(page, selector, name, text):
    """A real drop event carrying a File in its DataTransfer, as a drag from the desktop makes."""
    page.wait_for_selector("html[data-js=ready]", state="attached")  # the page's handlers are in place
    page.evaluate(
        """([selector, name, text]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], name, {type: "text/csv"}));
            const zone = document.querySelector(selector);
            for (const type of ["dragenter", "dragover", "drop"]) {
                zone.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true, cancelable: true}));
            }
        }""",
        [selector, name, text],
    )


def number_in(page, selector) -> int:
    return int(page.locator(selector).inner_text().replace(",", "").strip() or 0)


def test_manager_drops_a_list_launches_pauses_resumes_and_downloads_every_uuid(
    page, live_server, world, sandbox, start_processes, media_root, settings, screenshots, artifacts_dir
):
    # given a worker, beat and the sandbox, at a slow rate so that there is time to pause
    settings.PHONON_REALTIME_RATE = "100/2"
    start_processes(workers=2, PHONON_REALTIME_RATE="100/2", MEDIA_ROOT=str(media_root))
    log_in(page, live_server, "alice")

    # when alice drags a CSV onto the upload
    page.get_by_role("link", name="Call lists").click()
    drop_file(page, "#dropzone", "march_reminders.csv", call_list_csv(CONTACTS))

    # then she sees the file and a preview of its first rows before uploading
    expect(page.locator("#chosen-file")).to_contain_text("march_reminders.csv")
    preview = page.locator("#preview-table")
    expect(preview).to_contain_text("tel1")
    expect(preview).to_contain_text(phone(0))
    expect(preview).to_contain_text("Customer 0")
    screenshots(page, "01-upload-with-preview")

    # when she uploads it: the page follows the import live, then offers the launch form
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_url(re.compile(r"/lists/\d+/$"))
    expect(page.locator("#campaign-form")).to_be_visible(timeout=60_000)
    expect(page.locator("#rows-imported")).to_have_text(f"{CONTACTS:,}")
    expect(page.locator("#rows-rejected")).to_have_text("2")
    expect(page.get_by_role("link", name=re.compile("Download the rejected-rows report"))).to_be_visible()
    expect(page.locator("#preview-table")).to_contain_text(phone(0))
    screenshots(page, "02-list-imported")

    # and the rejected-rows report says which lines and why
    with page.expect_download() as report:
        page.get_by_role("link", name=re.compile("Download the rejected-rows report")).click()
    rejected = list(csv.DictReader(open(report.value.path(), newline="")))
    # (line 22 repeats a number already imported: left out of the rows to fix, so that uploading the
    # report again cannot call that person twice; the page says so)
    assert [row["rejected_line"] for row in rejected] == ["12"]
    expect(page.locator("#rejected-hint")).to_contain_text(
        "The 1 row whose number was already in this list is left out"
    )
    assert rejected[0]["tel1"] == "12345" and rejected[0]["rejected_column"] == "tel1"  # the row as written

    # when she launches it around the clock, 50 calls a request, and confirms the review
    page.get_by_label("Calling window from").fill("00:00")
    page.get_by_label("Calling window until").fill("24:00")
    page.get_by_text("Advanced: batch size and flow version").click()
    page.get_by_label("Batch size").fill("50")
    expect(page.locator("#listener-warning")).to_contain_text("calls may not connect")
    page.get_by_role("button", name="Review the launch").click()
    expect(page.locator("#review-who")).to_contain_text(f"{CONTACTS:,} contacts")
    assert not Campaign.objects.exists()
    page.get_by_label(re.compile("Launch anyway")).check()
    page.get_by_label(re.compile("I have checked that they are allowed")).check()  # around the clock, Indian numbers
    page.get_by_role("button", name="Confirm and launch").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+/$"))
    campaign = Campaign.objects.get()
    assert (campaign.batch_size, campaign.window_end, campaign.created_by) == (50, None, world["alice"])

    # then calls are placed, and she pauses while it runs
    wait_until(lambda: number_in(page, "#count-placed") >= 100, timeout=60, message="100 calls placed")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#resume-button")).to_be_visible()
    expect(page.locator("#status-detail")).to_contain_text("Paused by a manager (alice).")
    assert Campaign.objects.get().status == Campaign.Status.PAUSED
    # requests already granted may still land; after that nothing more goes out
    page.wait_for_timeout(3000)
    settled = Call.objects.filter(campaign=campaign).exclude(state=Call.State.PENDING).count()
    page.wait_for_timeout(3000)
    assert Call.objects.filter(campaign=campaign).exclude(state=Call.State.PENDING).count() == settled
    assert settled < CONTACTS
    expect(page.locator("#count-placed")).to_have_text(f"{settled:,}")
    screenshots(page, "03-campaign-paused")

    # when she resumes, it runs to the end and the page shows 100 %
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#progress-text")).to_contain_text("100%", timeout=120_000)
    expect(page.locator("#count-placed")).to_have_text(f"{CONTACTS:,}")
    expect(page.locator("#campaign-live .badge")).to_have_text("Completed", timeout=30_000)
    expect(page.locator("#campaign-batches")).to_contain_text("200 Success")
    expect(page.locator("#campaign-batches")).not_to_contain_text("Sending")
    expect(page.locator("#campaign-live .batch-summary")).to_have_text("Batches: 20 placed")
    screenshots(page, "04-campaign-completed")

    # and the search finds one contact's call with its phonon-uuid
    page.get_by_label("Find a contact by number").fill(phone(7)[-8:])
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#search-summary")).to_contain_text("1 call to numbers ending in")
    uuid_cell = page.locator("#calls-table .phonon-uuid")
    expect(uuid_cell).to_have_count(1)
    expected_uuid = Call.objects.get(campaign=campaign, contact__primary_number=phone(7)).phonon_uuid
    expect(uuid_cell).to_have_text(expected_uuid)

    # and the export she downloads has every call with its phonon-uuid, the sandbox's own
    with page.expect_download() as download:
        page.get_by_role("link", name="Download results (CSV)").click()
    rows = list(csv.DictReader(open(download.value.path(), newline="")))
    ledger = {entry["client-identifier"]: entry["phonon-uuid"] for entry in sandbox.provider.ledger()}
    assert len(rows) == CONTACTS
    assert all(row["phonon_uuid"] and row["state"] == "placed" for row in rows)
    assert {row["client_identifier"]: row["phonon_uuid"] for row in rows} == ledger

    # and the other pages, for the record
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Calls today, against the provider's limits")).to_be_visible()
    screenshots(page, "05-dashboard")
    page.get_by_role("link", name="Flows").click()
    screenshots(page, "06-flows")
    page.get_by_role("link", name="ZH0RKJvh").click()
    expect(page.locator("#mail-body")).to_contain_text("Flow ID: ZH0RKJvh")
    expect(page.locator("#mail-body")).to_contain_text("918045678901")
    screenshots(page, "07-flow-detail")
    page.get_by_role("link", name="Campaigns", exact=True).click()
    screenshots(page, "08-campaigns")


def test_picking_a_file_shows_upload_progress_and_a_refused_file_its_sentence(
    page, live_server, world, media_root, screenshots
):
    log_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/lists/")

    # a file that is not a call list is refused with one sentence, without leaving the page
    page.wait_for_selector("html[data-js=ready]", state="attached")
    page.set_input_files("#id_file", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}])
    expect(page.locator("#preview-error")).to_contain_text("Only .csv and .zip files are accepted")
    expect(page.get_by_role("button", name="Upload and import")).to_be_disabled()  # it would only be refused
    screenshots(page, "09-upload-refused")

    # the file input (the fallback to dragging) takes a CSV; the upload shows its progress
    page.evaluate("""() => {
        const bar = document.querySelector('#upload-progress .progress');
        new MutationObserver(() => sessionStorage.setItem('uploadProgress', bar.getAttribute('aria-valuenow')))
            .observe(bar, {attributes: true});
    }""")
    page.set_input_files("#id_file", files=[{
        "name": "small.csv", "mimeType": "text/csv", "buffer": call_list_csv(30).encode(),
    }])
    expect(page.locator("#preview-table")).to_contain_text(phone(1))
    page.get_by_role("button", name="Upload and import").click()
    page.wait_for_url(re.compile(r"/lists/\d+/$"))
    assert page.evaluate("sessionStorage.getItem('uploadProgress')") == "100"

    # no worker runs in this test: the list waits, and its page already previews the rows
    contact_list = ContactList.objects.get(original_filename="small.csv")
    assert contact_list.status == ContactList.Status.PENDING and contact_list.created_by == world["alice"]
    expect(page.locator("#list-progress")).to_contain_text("Waiting for a worker")
    expect(page.locator("#preview-table")).to_contain_text(phone(1))


def test_a_manager_cannot_open_admin_or_another_accounts_campaign(page, live_server, world, screenshots):
    acme_list = make_contact_list(world["flow"], 3, name="Acme list")
    campaign = Campaign.objects.create(name="Acme campaign", contact_list=acme_list, flow=world["flow"],
                                       token="BROWSERT01", status=Campaign.Status.SCHEDULED)

    # charlie manages Globex: alice's campaign does not exist for him
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    screenshots(page, "10-login")
    log_in(page, live_server, "charlie")
    response = page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    assert "Traceback" not in page.content()
    screenshots(page, "11-not-found")
    page.goto(f"{live_server.url}/campaigns/")
    expect(page.locator("main")).not_to_contain_text("Acme campaign")

    # bob shares alice's account: he sees the campaign, but admin sends him to its login
    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server, "bob")
    assert page.goto(f"{live_server.url}/campaigns/{campaign.pk}/").status == 200
    expect(page.get_by_role("heading", name="Acme campaign")).to_be_visible()
    page.goto(f"{live_server.url}/admin/")
    assert "/admin/login/" in page.url
    expect(page.locator("body")).not_to_contain_text("Site administration")


def test_cancel_asks_for_confirmation_and_works_from_the_keyboard(page, live_server, world, screenshots):
    acme_list = make_contact_list(world["flow"], 4, name="Acme list")
    campaign = Campaign.objects.create(name="Acme campaign", contact_list=acme_list, flow=world["flow"],
                                       token="BROWSERT02", status=Campaign.Status.SCHEDULED)
    log_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")

    page.get_by_role("link", name="Cancel…").click()
    expect(page.get_by_role("heading", name="Cancel “Acme campaign”?")).to_be_visible()
    page.get_by_role("button", name="Cancel the campaign").click()
    expect(page.locator("#confirm-errors")).to_contain_text("Tick the box to confirm the cancellation.")
    screenshots(page, "12-cancel-confirmation")
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.SCHEDULED

    checkbox = page.get_by_label("Yes, cancel this campaign")
    checkbox.focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Cancel the campaign")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.locator("#campaign-live .badge")).to_have_text("Cancelled")
    expect(page.locator("#campaign-live")).to_contain_text("Cancelled by a manager (alice).")
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.CANCELLED


def test_an_admin_edits_a_flow_without_ever_seeing_its_security_id(page, live_server, world, screenshots):
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    flow = world["flow"]
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.goto(f"{live_server.url}/admin/flows/flow/{flow.pk}/change/")
    expect(page.locator("body")).to_contain_text("••••0001")
    assert "acme-security-id-0001" not in page.content()
    screenshots(page, "13-admin-flow")

    page.get_by_label("Name:").fill("Payment reminders v2")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    flow.refresh_from_db()
    assert (flow.name, flow.security_id) == ("Payment reminders v2", "acme-security-id-0001")
