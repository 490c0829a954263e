"""Oversized uploads are refused before Django spools them: real multipart POSTs over HTTP to the
live server (and one through Django's ASGI handler with a Content-Length that lies), with the
upload temporary folder watched while they run. alice manages Acme; the stranger has no login.
"""

import asyncio
import secrets
import threading
import time
from contextlib import contextmanager

import pytest
import requests
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.core.handlers.asgi import ASGIHandler
from django.test import Client

from campaigns.models import ContactList
from tests.factories import make_flow, phone
from tests.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

MB = 1024 * 1024
CSRF = "S" * 32  # a CSRF cookie the sender chose itself; Django accepts it as a token


@pytest.fixture
def upload_dirs(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-tmp")
    settings.MEDIA_ROOT = tmp_path / "media"
    (tmp_path / "upload-tmp").mkdir()
    return tmp_path / "upload-tmp"


@pytest.fixture
def alice_session():
    alice = get_user_model().objects.create_user("alice", password="a-long-test-password")
    flow = make_flow()
    flow.account.managers.add(alice)
    client = Client()
    client.force_login(alice)
    return {"session": client.cookies["sessionid"].value, "flow": flow}


def call_list(size: int) -> bytes:
    line = f"{phone(1)},Customer\n".encode()
    return b"tel1,$flow.key.name\n" + line * (size // len(line) + 1)


def multipart(fields: dict, content: bytes, filename="calls.csv") -> tuple[bytes, str]:
    boundary = f"----phonon{secrets.token_hex(8)}"
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
             "Content-Type: text/csv\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@contextmanager
def watching(folder):
    """Every name that appears in the folder while the block runs, however briefly."""
    seen, done = set(), threading.Event()

    def watch():
        while not done.is_set():
            seen.update(entry.name for entry in folder.iterdir())
            time.sleep(0.0005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield seen
    finally:
        done.set()
        watcher.join()
        seen.update(entry.name for entry in folder.iterdir())


def post(url, content: bytes, *, session=None, fields=None, **headers) -> requests.Response:
    body, content_type = multipart({"csrfmiddlewaretoken": CSRF, **(fields or {})}, content)
    cookies = {"csrftoken": CSRF, **({"sessionid": session} if session else {})}
    return requests.post(url, data=body, cookies=cookies, timeout=60, allow_redirects=False,
                         headers={"Content-Type": content_type, "Referer": url, **headers})


def test_an_8_mb_preview_is_refused_unread_while_a_3_mb_one_is_spooled_as_usual(
    live_server, alice_session, upload_dirs
):
    url = f"{live_server.url}/lists/preview/"

    # given alice's 3 MB preview, over the in-memory size: Django spools it to a temporary file
    with watching(upload_dirs) as seen_while_accepted:
        accepted = post(url, call_list(3 * MB), session=alice_session["session"])
    assert accepted.status_code == 200 and phone(1) in accepted.text
    assert seen_while_accepted, "the watcher sees the temporary file of an accepted upload"
    # (the server deletes it once the response is sent, a moment after the client has it)
    wait_until(lambda: not any(upload_dirs.iterdir()), timeout=10, message="the temporary file deleted")

    # when she posts 8 MB, over the 5 MB limit of a call list
    with watching(upload_dirs) as seen_while_refused:
        refused = post(url, call_list(8 * MB), session=alice_session["session"])

    # then it is refused with one sentence, and no temporary file ever appeared
    assert refused.status_code == 413
    assert "The file is larger than 5.0 MB, the most the server accepts." in refused.text
    assert "Traceback" not in refused.text
    assert seen_while_refused == set()


def test_a_stranger_with_a_self_chosen_csrf_cookie_writes_nothing_to_disk(live_server, alice_session, upload_dirs):
    url = f"{live_server.url}/lists/upload/"
    fields = {"flow": alice_session["flow"].pk, "name": "from a stranger"}

    # when someone without a login posts a call list of 3 MB, then of 8 MB, with a CSRF cookie and
    # token of their own making
    with watching(upload_dirs) as seen:
        answers = [post(url, call_list(size), fields=fields) for size in (3 * MB, 8 * MB)]

    # then both are refused with the page's sentence, unread: no temporary file, no list, no stored file
    for answer in answers:
        assert answer.status_code == 413
        assert "Log in before sending a file" in answer.text and "Traceback" not in answer.text
    assert seen == set()
    assert not ContactList.objects.exists()
    assert not (upload_dirs.parent / "media").exists()


def test_the_upload_script_gets_the_refusal_as_json(live_server, alice_session, upload_dirs, settings):
    # given an upload limit of 1 MB
    settings.UPLOAD_MAX_BYTES = MB

    # when alice's browser uploads 2 MB
    with watching(upload_dirs) as seen:
        answer = post(f"{live_server.url}/lists/upload/", call_list(2 * MB), session=alice_session["session"],
                      fields={"flow": alice_session["flow"].pk}, **{"X-Requested-With": "XMLHttpRequest"})

    # then the script shows the sentence it is given; nothing was kept
    assert answer.status_code == 413
    assert answer.json() == {"error": "The file is larger than 1.0 MB, the most the server accepts."}
    assert seen == set() and not ContactList.objects.exists()


def test_a_body_longer_than_its_content_length_is_cut_off_at_the_limit(alice_session, upload_dirs, settings):
    # given a 100 KB limit for a call list, and every file part spooled to the temporary folder
    settings.CALL_LIST_MAX_BYTES = 100 * 1024
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10
    body, content_type = multipart({"csrfmiddlewaretoken": CSRF}, call_list(MB))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/lists/preview/", "raw_path": b"/lists/preview/", "query_string": b"", "root_path": "",
        "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000),
        "headers": [
            (b"host", b"127.0.0.1"), (b"content-type", content_type.encode()), (b"accept", b"application/json"),
            # ASGI passes on the whole body whatever this says; WSGI would cut it here
            (b"content-length", b"2000"),
            (b"cookie", f"csrftoken={CSRF}; sessionid={alice_session['session']}".encode()),
        ],
    }
    chunks = [body[i:i + 64 * 1024] for i in range(0, len(body), 64 * 1024)]
    sent = []

    async def receive():
        if not chunks:  # the client waits for the answer; Django listens for a disconnect meanwhile
            await asyncio.Event().wait()
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message):
        sent.append(message)

    # when the 1 MB body reaches Django's ASGI handler
    with watching(upload_dirs) as seen:
        async_to_sync(ASGIHandler())(scope, receive, send)

    # then the upload handler stopped the parser at the limit: 413 with the sentence, and the
    # temporary file it had begun (every part is spooled here) is gone
    assert sent[0]["status"] == 413
    assert b"The file is larger than 100.0 KB, the most the server accepts." in b"".join(
        message.get("body", b"") for message in sent[1:]
    )
    assert len(seen) <= 1 and list(upload_dirs.iterdir()) == []
