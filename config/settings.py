"""Settings for the campaign manager, read from the environment (and `.env` when present).

Every variable is documented in `.env.example`. DEBUG=1 gives the embedded default (SQLite, an
embedded Redis, the built-in sandbox provider); DEBUG=0 is production and refuses to start
without real secrets.
"""

import base64
import datetime
import hashlib
import ipaddress
import os
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from phonon.durations import seconds_of
from phonon.limits import MAX_CALLS_PER_REQUEST, MAX_FILE_BYTES

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -------------------------------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=False)
EXAMPLE_SECRET_KEY = "change-me-to-50-random-characters"  # the placeholder in .env.example
DEVELOPMENT_SECRET_KEY = "dev-only-insecure-key-never-use-in-production-0123456789abcdef"
SECRET_KEY = env.str("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY if DEBUG else "")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

if not DEBUG:
    missing = [
        name
        for name, value in (
            ("SECRET_KEY", SECRET_KEY),
            ("FIELD_ENCRYPTION_KEYS", env.str("FIELD_ENCRYPTION_KEYS", default="")),
            ("ALLOWED_HOSTS", ALLOWED_HOSTS),
        )
        if not value
    ]
    if missing:
        raise ImproperlyConfigured(
            f"DEBUG=0 (production) needs {', '.join(missing)}; see .env.example."
        )
    if SECRET_KEY == DEVELOPMENT_SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY is the development key; set a real one.")
    # The placeholder of .env.example, copied unchanged, would sign every session with a known key.
    if SECRET_KEY == EXAMPLE_SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY is the placeholder from .env.example; set a real one.")
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured(
            f"SECRET_KEY has {len(SECRET_KEY)} characters; production needs at least 50 random ones."
        )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",  # its widget templates, for FORM_RENDERER below
    "django_htmx",
    "axes",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "flows",
    "events",
    "campaigns",
    "dialer",
    "intake",
    "pages",
    "api",
]

MIDDLEWARE = [
    # First: /health answers load balancers over plain HTTP whatever their Host header.
    "config.health.HealthMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before anything reads the body (CSRF reads it in process_view, after every middleware's
    # request phase); after the session, since only a logged-in user may send a file.
    "config.uploads.RequestSizeLimitMiddleware",
    # Every URL needs a login unless its view says otherwise (login, health, metrics, the API).
    "pages.login_required.LoginRequiredForPages",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last: turns a login refused by the lockout into the page that says to wait.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

# Widgets are rendered with TEMPLATES, so that templates/ may override one (admin's split date/time
# widget gets a label per input: templates/admin/widgets/split_datetime.html).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The test database is a file, not memory: end-to-end tests run real worker processes.
    # One file per test run, so that runs side by side never share (and delete) one database.
    (BASE_DIR / "var").mkdir(exist_ok=True)  # git keeps no var/: a fresh clone has none
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-{os.getpid()}.sqlite3")}
    # Several processes (web, workers, beat) share the file: WAL and a busy timeout keep
    # writers from failing with "database is locked" under normal contention.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Kept between requests, as PostgreSQL's: opening one (the pragmas, Django's SQL functions) cost
    # 4.5 ms of CPU a request, 20 times what storing a delivery report does.
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    # A kept connection is checked (SELECT 1) before its first use in a request or a Celery task,
    # so that one broken by a database restart is replaced instead of failing that task.
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth and pages ---------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login lockout (django-axes, state in the database): after LOGIN_FAILURE_LIMIT wrong passwords
# for one username, or from one address, both logins (pages and admin) refuse for
# LOGIN_LOCKOUT_MINUTES, counted anew from each further attempt.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out login before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks
AXES_LOCKOUT_CALLABLE = "config.login_lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "config.login_lockout.client_ip"
# Proxies in front of gunicorn that append to X-Forwarded-For (the TLS proxy: 1). With 0 the
# address is the connection's own, which behind a proxy is the proxy's: everyone would share it.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0 if DEBUG else 1)
# The addresses (or networks) our proxy connects from: X-Forwarded-For is read only from these. A client
# that reaches gunicorn directly is known by its own address, whatever it writes in that header.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=["127.0.0.1", "::1"])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an address or network.") from None
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Uploaded call lists and reports live here; they are never served as static or media URLs,
# only through views that check the user's account.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")

CALL_LIST_MAX_BYTES = env.int("CALL_LIST_MAX_BYTES", default=MAX_FILE_BYTES)
# The largest body of any page but the two upload pages, and of every request by someone not
# logged in (config.uploads refuses a larger one from its Content-Length, unread). Django counts
# only form fields against it, never files: config.uploads counts the whole body. Our forms are
# small; it stays below FILE_UPLOAD_MAX_MEMORY_SIZE, so a stranger's body is never spooled to disk.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)
# A file part larger than this is spooled to a temporary file in FILE_UPLOAD_TEMP_DIR.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
if DATA_UPLOAD_MAX_MEMORY_SIZE > FILE_UPLOAD_MAX_MEMORY_SIZE:
    raise ImproperlyConfigured("DATA_UPLOAD_MAX_MEMORY_SIZE must not exceed 2621440 (bodies kept in memory).")
# The largest upload on the upload page (a ZIP may carry several CSVs); the preview page takes at
# most CALL_LIST_MAX_BYTES. Both plus the multipart overhead, checked before the body is read.
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=50 * 1024 * 1024)
# The upload limit counts the bytes of the file parts as they are parsed, before Django's own.
FILE_UPLOAD_HANDLERS = [
    "config.uploads.UploadLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Call-list limits, each refused with one sentence naming the limit.
CALL_LIST_MAX_ROWS = env.int("CALL_LIST_MAX_ROWS", default=1_000_000)
CALL_LIST_MAX_COLUMNS = env.int("CALL_LIST_MAX_COLUMNS", default=50)
CALL_LIST_MAX_LINE_BYTES = env.int("CALL_LIST_MAX_LINE_BYTES", default=10_000)
CALL_LIST_MAX_ZIP_MEMBERS = env.int("CALL_LIST_MAX_ZIP_MEMBERS", default=20)
# Uncompressed bytes actually read from a ZIP (not its headers' claim): the bomb stop.
CALL_LIST_MAX_TOTAL_BYTES = env.int("CALL_LIST_MAX_TOTAL_BYTES", default=50 * 1024 * 1024)
# Rows committed a transaction. On SQLite every commit writes each index page it touched to the WAL,
# and a large list's primary-number index is touched all over: 5,000 rows a commit cost a 1,000,000-row
# import 3 s of CPU more than 50,000 (benchmarks/bench_import.py).
CALL_LIST_CHUNK_ROWS = env.int("CALL_LIST_CHUNK_ROWS", default=50_000)
# An import (or a do-not-call load) still running this long after it started is taken for one whose
# process ended mid-way: the stale sweep runs it again from the start, or fails it if it already was.
IMPORT_STALE_SECONDS = env.float("IMPORT_STALE_SECONDS", default=600.0)
DNC_LOAD_STALE_SECONDS = env.float("DNC_LOAD_STALE_SECONDS", default=1800.0)
# Processes an import of a large file (2 MB or more) uses beside the one that stores: a reading process,
# and checking workers of its own beyond one (campaigns/importing/workers.py). By default the cores
# less one; 0 keeps every import in one process.
CALL_LIST_IMPORT_WORKERS = env.int("CALL_LIST_IMPORT_WORKERS", default=max(0, (os.cpu_count() or 1) - 1))
# Phone numbers written as plain digits take a hand-written path over phonenumbers' own metadata
# (campaigns/importing/numbers.py), held exact against the library by property tests; 0 sends every
# number to phonenumbers alone (3-10x slower), should a new phonenumbers release ever disagree.
PHONE_NUMBERS_FAST_PATH = env.bool("PHONE_NUMBERS_FAST_PATH", default=True)

# --- Security (production) --------------------------------------------------------------------

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^health$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp), on every response: scripts and styles only from our own
# static files, so an injected <script>, inline handler or style cannot run. The templates carry
# no inline script or style (a bar's width is an SVG attribute); htmx runs with eval, script tags
# in swapped HTML and its injected indicator style off (the htmx-config meta tag in base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],  # Swagger UI's icons are data: SVGs; an image cannot run a script
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Bearer token for Prometheus at /metrics (a staff login needs none); empty: staff logins only.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# Secrets at rest (security-ids, intake credentials): MultiFernet keys, newest first.
_field_keys = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not _field_keys:
    # Development only (production refuses to start without the variable, above).
    _field_keys = [base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()]
FIELD_ENCRYPTION_KEYS = _field_keys

# --- Redis and Celery -------------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged after it ran, and given back if its worker dies; the database claim
# makes a second delivery harmless, and the sweeper covers a message that is lost anyway.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connection before and after every task unless this is
# set: a new connection (and a new PostgreSQL backend, its caches cold) per batch sent. It closes
# them every this many tasks instead; between tasks config/celery.py lets Django close the
# connections that are broken or older than CONN_MAX_AGE, as it does between web requests.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# Tasks one worker process runs at once (prefork children); the tasks mostly wait on HTTP.
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=8)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", 300)}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = False
# autodiscover_tasks() finds each app's tasks.py; the intake tasks live beside them.
CELERY_IMPORTS = ["intake.tasks", "api.webhooks.tasks", "dialer.outcomes.tasks", "dialer.redials.tasks"]
CELERY_BEAT_SCHEDULE = {
    "dispatch-tick": {"task": "dialer.tasks.dispatch_tick_task", "schedule": env.float("DISPATCH_TICK_SECONDS", 2.0)},
    "poll-mailboxes": {
        "task": "intake.tasks.poll_mailboxes_task", "schedule": env.float("INTAKE_POLL_SECONDS", 60.0),
    },
    "poll-sftp": {"task": "intake.tasks.poll_sftp_task", "schedule": env.float("INTAKE_POLL_SECONDS", 60.0)},
    "outcomes-sweep": {
        "task": "dialer.outcomes.tasks.apply_reports_task", "schedule": env.float("OUTCOME_SWEEP_SECONDS", 5.0),
    },
    "outcomes-events": {
        "task": "dialer.outcomes.tasks.outcome_events_task", "schedule": env.float("OUTCOME_EVENT_SECONDS", 5.0),
    },
    "outcomes-pull": {
        "task": "dialer.outcomes.tasks.pull_outcomes_task", "schedule": env.float("PHONON_PULL_SECONDS", 30.0),
    },
    "webhooks-tick": {
        "task": "api.webhooks.tasks.webhooks_tick_task", "schedule": env.float("WEBHOOK_TICK_SECONDS", 2.0),
    },
    "stale-imports": {
        "task": "campaigns.tasks.stale_imports_task", "schedule": env.float("STALE_IMPORTS_SWEEP_SECONDS", 60.0),
    },
}

# --- Intake (mail and SFTP) -------------------------------------------------------------------

# Who vouches for a mail's sender (docs/security.md): the authserv-id our MTA writes in
# Authentication-Results (dmarc=pass, or aligned dkim=pass); empty: verify DKIM here with DNS.
MAIL_INTAKE_AUTHSERV_ID = env.str("MAIL_INTAKE_AUTHSERV_ID", default="")
# The header our MTA adds with the envelope recipient; mail is routed by it alone, never To or Cc.
MAIL_INTAKE_RECIPIENT_HEADER = env.str("MAIL_INTAKE_RECIPIENT_HEADER", default="Delivered-To")
if MAIL_INTAKE_RECIPIENT_HEADER.lower() not in ("delivered-to", "x-original-to"):
    raise ImproperlyConfigured("MAIL_INTAKE_RECIPIENT_HEADER must be Delivered-To or X-Original-To.")
# Answers to one sender at most this often a day (a flood of mails must not make us a spam cannon).
MAIL_INTAKE_REPLIES_PER_SENDER_PER_DAY = env.int("MAIL_INTAKE_REPLIES_PER_SENDER_PER_DAY", default=20)
# A flow's mail intake address when it has no explicit one ({flow_id} becomes <flow-id>.<secret token>).
MAIL_INTAKE_PATTERN = env.str("MAIL_INTAKE_PATTERN", default="calls+{flow_id}@example.com")
# A claimed mail or file left unfinished this long by a dead poller is finished by the next one.
INTAKE_STALE_SECONDS = env.int("INTAKE_STALE_SECONDS", default=600)
# A remote file is taken once its size and mtime stayed the same over two polls this far apart.
INTAKE_FILE_SETTLE_SECONDS = env.int("INTAKE_FILE_SETTLE_SECONDS", default=10)
INTAKE_NETWORK_TIMEOUT = env.int("INTAKE_NETWORK_TIMEOUT", default=30)
MAIL_INTAKE_BATCH = env.int("MAIL_INTAKE_BATCH", default=50)
# The largest mail read: a mailed ZIP is base64-encoded, a third larger than the file itself.
MAIL_INTAKE_MAX_BYTES = env.int("MAIL_INTAKE_MAX_BYTES", default=UPLOAD_MAX_BYTES * 4 // 3 + 1024 * 1024)

# --- The provider -----------------------------------------------------------------------------

SANDBOX_PORT = env.int("SANDBOX_PORT", default=8765)
_sandbox = f"http://127.0.0.1:{SANDBOX_PORT}"
PHONON_REALTIME_BASE_URL = env.str(
    "PHONON_REALTIME_BASE_URL", default=f"{_sandbox}/realtime" if DEBUG else "https://central.phonon.io"
).rstrip("/")
PHONON_BULK_BASE_URL = env.str(
    "PHONON_BULK_BASE_URL", default=f"{_sandbox}/bulk" if DEBUG else "https://central-api.phonon.io"
).rstrip("/")
PHONON_REALTIME_RATE = env.str("PHONON_REALTIME_RATE", default="3000/60")
PHONON_BULK_RATE = env.str("PHONON_BULK_RATE", default="30000/60")
# What one limit covers: `account` (each provider account has its own limit per endpoint) or
# `endpoint` (every account we send for shares one limit per endpoint). The provider's pages do
# not say; `endpoint` is the cautious reading when several accounts send from one address.
PHONON_RATE_SCOPE = env.str("PHONON_RATE_SCOPE", default="account")
if PHONON_RATE_SCOPE not in ("account", "endpoint"):
    raise ImproperlyConfigured("PHONON_RATE_SCOPE is account or endpoint.")
# Seconds added to every rate window, so that the jitter between a grant and the request's
# arrival at the provider can never put two windows' worth of calls in one of theirs.
PHONON_RATE_MARGIN = env.float("PHONON_RATE_MARGIN", default=0.2)
PHONON_BATCH_SIZE = env.int("PHONON_BATCH_SIZE", default=MAX_CALLS_PER_REQUEST)
if not 1 <= PHONON_BATCH_SIZE <= MAX_CALLS_PER_REQUEST:
    raise ImproperlyConfigured(
        f"PHONON_BATCH_SIZE must be between 1 and {MAX_CALLS_PER_REQUEST} (the provider's maximum)."
    )
# Pacing: calls that may leave at once beyond the even rate (limit / window), so that in any second
# at most the even rate plus this leaves; never less than the request itself. One batch by default.
PHONON_RATE_BURST = env.int("PHONON_RATE_BURST", default=PHONON_BATCH_SIZE)
# Sharing: a campaign that has not asked the limiter for this long no longer holds a share of it.
# (The dispatch tick says so for campaigns whose batches wait for a worker: keep it above the tick.)
PHONON_SHARE_IDLE_SECONDS = env.float("PHONON_SHARE_IDLE_SECONDS", default=3.0)
# A journal of the limiter's grants, kept this many seconds (0: none): when each request was let
# leave, on the limiter's one clock (ratelimit.granted_journal; the end-to-end tests read it).
PHONON_RATE_JOURNAL_SECONDS = env.float("PHONON_RATE_JOURNAL_SECONDS", default=0.0)
PHONON_TIMEZONE = env.str("PHONON_TIMEZONE", default="Asia/Kolkata")
PHONON_DEFAULT_REGION = env.str("PHONON_DEFAULT_REGION", default="IN")
PHONON_CONNECT_TIMEOUT = env.float("PHONON_CONNECT_TIMEOUT", default=5.0)
PHONON_READ_TIMEOUT = env.float("PHONON_READ_TIMEOUT", default=30.0)

# --- Dispatch ---------------------------------------------------------------------------------

# A claimed batch belongs to its worker until the lease runs out; it must outlast the HTTP
# timeouts, and is extended while the worker waits for a rate-limit grant.
DISPATCH_LEASE_SECONDS = env.float("DISPATCH_LEASE_SECONDS", default=60.0)
DISPATCH_MAX_ATTEMPTS = env.int("DISPATCH_MAX_ATTEMPTS", default=8)
DISPATCH_BACKOFF_BASE = env.float("DISPATCH_BACKOFF_BASE", default=2.0)
DISPATCH_BACKOFF_CAP = env.float("DISPATCH_BACKOFF_CAP", default=300.0)
# Longest a worker sleeps in one task waiting for a grant before it hands the batch back.
DISPATCH_GRANT_MAX_WAIT = env.float("DISPATCH_GRANT_MAX_WAIT", default=5.0)
# Batches of one campaign queued or sending at once (keeps one campaign from filling the queue).
DISPATCH_INFLIGHT_PER_CAMPAIGN = env.int("DISPATCH_INFLIGHT_PER_CAMPAIGN", default=8)
# A queued batch whose message has not been taken after this long is queued again.
DISPATCH_REQUEUE_AFTER = env.float("DISPATCH_REQUEUE_AFTER", default=30.0)
# A request refused whole for what one call may cause (205, 210, 400, 402) is sent again in
# halves, at most this many times over: 9 halvings take 500 calls down to one.
DISPATCH_SPLIT_MAX_DEPTH = env.int("DISPATCH_SPLIT_MAX_DEPTH", default=9)
# Circuit breaker: of the last N finished attempts of a campaign, this share failing pauses it.
BREAKER_WINDOW = env.int("BREAKER_WINDOW", default=20)
BREAKER_FAILURE_RATIO = env.float("BREAKER_FAILURE_RATIO", default=0.8)

# --- Outcomes (delivery reports pushed by the provider, and the Pull API) ---------------------

# The public base of the per-flow report URLs given to the provider (flow_report_url).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# The largest report body taken; a larger one is kept cut, as "oversized", and answered 413.
OUTCOME_REPORT_MAX_BYTES = env.int("OUTCOME_REPORT_MAX_BYTES", default=256 * 1024)
# Addresses or networks the provider pushes from (e.g. 203.0.113.0/24); empty: any sender with the URL.
OUTCOME_REPORT_ALLOWED_ADDRESSES = env.list("OUTCOME_REPORT_ALLOWED_ADDRESSES", default=[])
# How long a web process trusts a report URL's secret it has looked up: after a rotation the old URL
# is refused at once by the process that rotated it and within this many seconds by every other.
OUTCOME_REPORT_URL_CACHE_SECONDS = env.float("OUTCOME_REPORT_URL_CACHE_SECONDS", default=2.0)
# Stored reports a worker applies in one transaction (on PostgreSQL in a few statements a chunk:
# larger chunks cost fewer statements a report), and how often beat sweeps for any left.
OUTCOME_APPLY_BATCH = env.int("OUTCOME_APPLY_BATCH", default=5000)
OUTCOME_SWEEP_SECONDS = env.float("OUTCOME_SWEEP_SECONDS", default=5.0)
# The outcome webhook event: at most one per campaign this often, carrying every change since.
OUTCOME_EVENT_SECONDS = env.float("OUTCOME_EVENT_SECONDS", default=5.0)
# The Pull API (given per customer by the provider); empty turns the reconciler off.
PHONON_PULL_URL = env.str("PHONON_PULL_URL", default=f"{_sandbox}/pull" if DEBUG else "")
PHONON_PULL_AFTER = seconds_of(env.str("PHONON_PULL_AFTER", default="10m"))
PHONON_PULL_GIVE_UP = seconds_of(env.str("PHONON_PULL_GIVE_UP", default="24h"))
PHONON_PULL_MAX_UUIDS = env.int("PHONON_PULL_MAX_UUIDS", default=200)
PHONON_PULL_RATE = env.str("PHONON_PULL_RATE", default="60/60")
# How often beat runs the reconciler, and the wait before a call with no data (213) is pulled again.
PHONON_PULL_SECONDS = env.float("PHONON_PULL_SECONDS", default=30.0)
PHONON_PULL_BACKOFF = seconds_of(env.str("PHONON_PULL_BACKOFF", default="5m"))
# Development: tell the built-in sandbox every flow's report URL, so that it pushes outcomes here.
SANDBOX_REPORT_URLS = env.bool("SANDBOX_REPORT_URLS", default=DEBUG)
SANDBOX_CONTROL_URL = env.str("SANDBOX_CONTROL_URL", default=_sandbox)

# --- API and webhooks -------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.AccountKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.authentication.HasAccountKey"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.KeyRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.BoundedJSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.problems.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Phonon campaign manager API",
    "DESCRIPTION": "Call lists, campaigns and their calls, scoped to the account of the API key.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.document_problems_and_headers",
    ],
}
# Requests one API key may make per window, counted in Redis across every web process.
API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", default="600/60")
# Wrong API keys: after API_KEY_FAILURE_LIMIT failures for one key prefix, or from one address, within
# API_KEY_FAILURE_WINDOW_SECONDS, every key from there is refused (429) until the window ends.
API_KEY_FAILURE_LIMIT = env.int("API_KEY_FAILURE_LIMIT", default=10)
API_KEY_FAILURE_WINDOW_SECONDS = env.int("API_KEY_FAILURE_WINDOW_SECONDS", default=300)
# Rows one JSON request may append to an open list, and the largest JSON body read (bytes).
API_ROWS_PER_REQUEST = env.int("API_ROWS_PER_REQUEST", default=10_000)
API_JSON_MAX_BYTES = env.int("API_JSON_MAX_BYTES", default=20 * 1024 * 1024)
# How long an Idempotency-Key's first answer is replayed.
API_IDEMPOTENCY_HOURS = env.int("API_IDEMPOTENCY_HOURS", default=24)
# Webhooks: http:// and loopback addresses allowed (development and tests only).
WEBHOOK_ALLOW_LOCAL = env.bool("WEBHOOK_ALLOW_LOCAL", default=DEBUG)
# A delivery is retried with backoff (base, cap, seconds) for this long, then marked failed.
WEBHOOK_RETRY_HOURS = env.float("WEBHOOK_RETRY_HOURS", default=24.0)
WEBHOOK_BACKOFF_BASE = env.float("WEBHOOK_BACKOFF_BASE", default=5.0)
WEBHOOK_BACKOFF_CAP = env.float("WEBHOOK_BACKOFF_CAP", default=3600.0)
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=10.0)
# A claimed delivery whose worker died is tried again after this lease.
WEBHOOK_LEASE_SECONDS = env.float("WEBHOOK_LEASE_SECONDS", default=60.0)

# --- Logging ----------------------------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# `plain` lines, or `json`: one object a line with campaign_id / batch_id fields.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("LOG_FORMAT is plain or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "core.logging.RedactSecretsFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "core.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact_secrets"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Django configures its own handlers first (DEFAULT_LOGGING: a DEBUG-only console, the
    # runserver lines, mail to admins), none of which redacts: naming its loggers here replaces
    # their handlers with ours, so every line Django writes passes the filter too.
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.server": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "axes.apps": {"level": "WARNING"},  # its start-up banner, in every command's output
    },
}
