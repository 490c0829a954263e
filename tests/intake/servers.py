"""Real servers on 127.0.0.1 for the intake tests: Dovecot (IMAP), aiosmtpd (SMTP), asyncssh (SFTP)."""

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import warnings
from email import policy
from email.parser import BytesParser
from pathlib import Path

import asyncssh
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from config.embedded_redis import free_port

# The sink asks for AUTH without TLS on purpose: it listens on 127.0.0.1 only.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")

DOVECOT_PATHS = ("dovecot", "/usr/sbin/dovecot")
DOVECOT_APT = "apt-get install -y dovecot-imapd"


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"Nothing listens on 127.0.0.1:{port} after {timeout:.0f} s.")


# --- IMAP: Dovecot -------------------------------------------------------------------------------------


def dovecot_binary() -> str | None:
    for candidate in DOVECOT_PATHS:
        found = shutil.which(candidate)
        if found:
            return found
    return None


class Dovecot:
    """A private Dovecot on a free loopback port: plain IMAP (no TLS, loopback only), users in a
    passwd-file, Maildirs in a temp dir. Each test takes a fresh user, so mailboxes never mix."""

    USERS = 500
    PASSWORD = "imap-pass-1234"

    def __init__(self, binary: str):
        self.binary = binary
        self.root = Path(tempfile.mkdtemp(prefix="intake-dovecot-"))
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.taken = 0

    def _identity(self) -> tuple[int, int, str]:
        # Dovecot refuses to open mail as root: as root the mail belongs to its own `dovecot` user.
        if os.geteuid() == 0:
            entry = pwd.getpwnam("dovecot")
            return entry.pw_uid, entry.pw_gid, ""
        me = pwd.getpwuid(os.geteuid())
        return me.pw_uid, me.pw_gid, me.pw_name

    def start(self) -> "Dovecot":
        uid, gid, own_user = self._identity()
        for folder in ("run", "state", "home"):
            (self.root / folder).mkdir()
        os.chmod(self.root, 0o755)
        if os.geteuid() == 0:
            os.chown(self.root / "home", uid, gid)
        # Every user the run may need, written before the start: Dovecot re-reads a changed passwd-file
        # only when its timestamp moves, which two tests within a second would not see.
        (self.root / "passwd").write_text(
            "".join(f"{name}:{{PLAIN}}{self.PASSWORD}::::::\n" for name in self.user_names())
        )
        users = f"default_login_user = {own_user}\ndefault_internal_user = {own_user}\n" if own_user else ""
        (self.root / "dovecot.conf").write_text(
            f"""base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.root}/dovecot.log
{users}protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = {min(uid, 500)}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={self.root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""
        )
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            wait_for_port(self.port)
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"Dovecot did not start: {self.log()}") from None
        return self

    def user_names(self):
        return [f"intake{n}" for n in range(1, self.USERS + 1)]

    def take_user(self) -> tuple[str, str]:
        """A user whose mailbox no test has touched yet."""
        name = self.user_names()[self.taken]
        self.taken += 1
        return name, self.PASSWORD

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text()[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


# --- SMTP: aiosmtpd ------------------------------------------------------------------------------------


class SmtpSink:
    """An SMTP server that keeps every message; AUTH with one user, allowed without TLS (loopback)."""

    USER, PASSWORD = "replies", "smtp-pass-4321"

    def __init__(self):
        self.messages: list = []
        self.envelopes: list = []
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(
            self, hostname="127.0.0.1", port=self.port, authenticator=self._authenticate,
            auth_require_tls=False, auth_required=True,
        )

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == self.USER.encode() and auth_data.password == self.PASSWORD.encode()
        return AuthResult(success=ok, handled=False)

    async def handle_DATA(self, server, session, envelope):
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        with self.lock:
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.messages.append(message)
        return "250 Message accepted"

    def start(self) -> "SmtpSink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def received(self) -> list:
        with self.lock:
            return list(self.messages)


# --- SFTP: asyncssh ------------------------------------------------------------------------------------


class _PasswordServer(asyncssh.SSHServer):
    def __init__(self, users: dict[str, str]):
        self.users = users

    def begin_auth(self, username):
        return True

    def password_auth_supported(self):
        return True

    def validate_password(self, username, password):
        return self.users.get(username) == password


class SftpServer:
    """asyncssh's SFTP server in a thread with its own loop: password login, chroot to a temp dir."""

    def __init__(self, users: dict[str, str]):
        self.users = users
        self.root = Path(tempfile.mkdtemp(prefix="intake-sftp-"))
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = None
        self.port = 0

    @property
    def host_key_line(self) -> str:
        return self.host_key.export_public_key().decode().strip()

    def start(self) -> "SftpServer":
        self.thread.start()
        root = str(self.root)

        def sftp_factory(channel):
            return asyncssh.SFTPServer(channel, chroot=root.encode())

        async def listen():
            return await asyncssh.listen(
                "127.0.0.1", 0, server_host_keys=[self.host_key],
                server_factory=lambda: _PasswordServer(self.users), sftp_factory=sftp_factory,
            )

        self.server = asyncio.run_coroutine_threadsafe(listen(), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def close():
            self.server.close()
            await self.server.wait_closed()

        if self.server is not None:
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        shutil.rmtree(self.root, ignore_errors=True)
