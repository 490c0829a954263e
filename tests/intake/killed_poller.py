"""`poll_intake` in a process of its own that kills itself at an exact point (fault injection).

    python tests/intake/killed_poller.py mail|files [claim|import|reply]

The point is injected here, by wrapping the product's own step functions, so that no test hook
lives in product code: "claim" dies right after a mail or file is claimed, "import" right after
its list was made and imported, "reply" right after the reply was sent.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from intake import mailbox, sftp  # noqa: E402

KILLED = 137


def die_after(module, name, *, when=lambda result: True):
    original = getattr(module, name)

    def wrapped(*args, **kwargs):
        result = original(*args, **kwargs)
        if when(result):
            os._exit(KILLED)  # as SIGKILL would: no cleanup, no rollback of what was committed
        return result

    setattr(module, name, wrapped)


INJECTIONS = {
    ("mail", "claim"): lambda: die_after(mailbox, "_claim", when=lambda result: result[1] in ("new", "resume")),
    ("mail", "import"): lambda: die_after(mailbox, "intake_file_take"),
    ("mail", "reply"): lambda: die_after(mailbox, "mail_reply_send"),
    ("files", "claim"): lambda: die_after(sftp, "_intake_file_for"),
    ("files", "import"): lambda: die_after(sftp, "intake_file_take"),
}

if __name__ == "__main__":
    channel, point = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "")
    if point:
        INJECTIONS[channel, point]()
    call_command("poll_intake", "--only", channel)
