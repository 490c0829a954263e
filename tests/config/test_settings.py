"""Production settings (DEBUG=0), each in a fresh process: they refuse to start without their
secrets, pass `check --deploy` without a warning, and keep /health reachable over plain HTTP."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from config.settings import DEVELOPMENT_SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "ALLOWED_HOSTS")


def production_env(tmp_path, **overrides) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "DJANGO_"))}
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="campaigns.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'production.sqlite3'}",
        REDIS_URL="redis://127.0.0.1:1/0",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    env.update(overrides)
    return env


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("missing", REQUIRED)
def test_production_refuses_to_start_without(missing, tmp_path):
    # An empty value counts as missing (and hides any .env in the project folder).
    result = run(["-c", "import django; django.setup()"], production_env(tmp_path, **{missing: ""}))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and missing in result.stderr


def test_production_refuses_the_development_secret_key(tmp_path):
    result = run(["-c", "import django; django.setup()"], production_env(tmp_path, SECRET_KEY=DEVELOPMENT_SECRET_KEY))
    assert result.returncode != 0 and "development key" in result.stderr


def example_secret_key() -> str:
    (line,) = [line for line in (ROOT / ".env.example").read_text().splitlines() if line.startswith("SECRET_KEY=")]
    return line.split("=", 1)[1]


@pytest.mark.parametrize(
    ("secret_key", "sentence"),
    [
        (example_secret_key(), "SECRET_KEY is the placeholder from .env.example; set a real one."),
        (secrets.token_urlsafe(40)[:49], "SECRET_KEY has 49 characters; production needs at least 50 random ones."),
    ],
    ids=["the .env.example placeholder", "49 characters"],
)
def test_production_refuses_a_weak_secret_key(secret_key, sentence, tmp_path):
    # given production settings with a copied placeholder or a short key
    env = production_env(tmp_path, SECRET_KEY=secret_key)

    # when Django starts
    result = run(["-c", "import django; django.setup()"], env)

    # then it refuses, with one clear sentence
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {sentence}" in result.stderr


def test_production_accepts_a_50_character_secret_key(tmp_path):
    key = secrets.token_urlsafe(40)[:50]
    result = run(["-c", "import django; django.setup()"], production_env(tmp_path, SECRET_KEY=key))
    assert result.returncode == 0, result.stderr


def test_check_deploy_passes_without_a_single_warning(tmp_path):
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
c = Client()
health = c.get("/health?only=database", HTTP_HOST="10.0.0.7:8000")
login_http = c.get("/login/", HTTP_HOST="campaigns.example.com")
metrics_https = c.get("/metrics", HTTP_HOST="campaigns.example.com", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
    "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
    "SECURE_HSTS_SECONDS": settings.SECURE_HSTS_SECONDS,
    "SECURE_PROXY_SSL_HEADER": list(settings.SECURE_PROXY_SSL_HEADER),
    "DATA_UPLOAD_MAX_MEMORY_SIZE": settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
    "UPLOAD_MAX_BYTES": settings.UPLOAD_MAX_BYTES,
    "staticfiles": settings.STORAGES["staticfiles"]["BACKEND"],
    "health": health.status_code,
    "login_http": [login_http.status_code, login_http.get("Location")],
    "metrics_https": [metrics_https.status_code, metrics_https.get("Strict-Transport-Security")],
}))
"""


def test_production_is_https_only_except_health(tmp_path):
    result = run(["-c", PROBE], production_env(tmp_path))
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout.strip().splitlines()[-1])

    assert got["DEBUG"] is False
    assert got["SESSION_COOKIE_SECURE"] and got["CSRF_COOKIE_SECURE"] and got["SECURE_SSL_REDIRECT"]
    assert got["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert got["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert 0 < got["DATA_UPLOAD_MAX_MEMORY_SIZE"] <= got["UPLOAD_MAX_BYTES"] <= 100 * 1024 * 1024
    assert got["staticfiles"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    # a load balancer reaches /health over plain HTTP, by address
    assert got["health"] == 200
    # every page is redirected to HTTPS, and answered with HSTS behind the TLS proxy
    assert got["login_http"] == [301, "https://campaigns.example.com/login/"]
    assert got["metrics_https"][0] == 401 and "max-age=31536000" in got["metrics_https"][1]
