"""Issue 24, finding 6: a ZIP's member names were read (zipfile parsing its whole central directory) before
the size pre-check, so a small upload of a great many empty entries cost the web worker hundreds of MB.
Now the end record is checked before anything opens the archive: real uploads over HTTP to the live
server, with Python's allocations traced while they run (the live server is a thread of this process)."""

import io
import struct
import tracemalloc
import zipfile

import pytest
import requests

from campaigns.models import ContactList
from tests.config import test_uploads
from tests.config.test_uploads import CSRF, multipart
from tests.factories import phone

pytestmark = pytest.mark.django_db(transaction=True)

MB = 1024 * 1024
alice_session, upload_dirs = test_uploads.alice_session, test_uploads.upload_dirs  # the fixtures, shared


def many_entries_zip(count: int) -> bytes:
    """A stored ZIP of `count` empty members, written by hand (zipfile itself is slow at this)."""
    local, central = io.BytesIO(), io.BytesIO()
    for index in range(count):
        name = f"{index:05d}.csv".encode()
        offset = local.tell()
        local.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name)
        central.write(
            struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0, 0, 0, offset)
            + name
        )
    directory = central.getvalue()
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(directory), local.tell(), 0)
    return local.getvalue() + directory + end


def good_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("calls.csv", f"tel1,$flow.key.name\n{phone(1)},Customer\n")
    return out.getvalue()


def upload_request(live_server, session: dict, content: bytes, filename: str) -> dict:
    """The arguments of the upload script's POST (built before anything is measured)."""
    url = f"{live_server.url}/lists/upload/"
    body, content_type = multipart({"csrfmiddlewaretoken": CSRF, "flow": session["flow"].pk}, content, filename)
    headers = {"Content-Type": content_type, "Referer": url, "X-Requested-With": "XMLHttpRequest"}
    cookies = {"csrftoken": CSRF, "sessionid": session["session"]}
    return {"url": url, "data": body, "cookies": cookies, "headers": headers, "timeout": 60}


def test_a_zip_of_60000_entries_is_refused_before_its_names_are_read_and_a_good_zip_is_taken(
    live_server, alice_session, upload_dirs
):
    content = many_entries_zip(60_000)
    assert len(content) < 6 * MB
    request = upload_request(live_server, alice_session, content, "many.zip")

    # when alice uploads it, with every allocation of the process traced
    tracemalloc.start()
    try:
        refused = requests.post(**request)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # then it is refused at once with one sentence, its stored copy removed
    assert refused.status_code == 400
    assert "The ZIP holds more than 20 files" in refused.json()["error"]
    contact_list = ContactList.objects.get()
    assert contact_list.status == ContactList.Status.REFUSED and not contact_list.stored_file
    assert not list((upload_dirs.parent / "media" / "call_lists").iterdir())
    # and the names were never read: zipfile's 60,000 ZipInfo objects alone take some 30 MB
    assert peak < 12 * MB, f"peak {peak / MB:.1f} MB"

    # and a good ZIP right after is taken
    taken = requests.post(**upload_request(live_server, alice_session, good_zip(), "calls.zip"))
    assert taken.status_code == 201, taken.text
    assert ContactList.objects.get(original_filename="calls.zip").status != ContactList.Status.REFUSED
