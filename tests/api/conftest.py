"""Fixtures of the API tests: two accounts with a flow and a key each, and a client that talks to
the live server over real HTTP with a real key."""

import pytest
import requests

from api.keys import api_key_create
from config.celery import app
from flows.models import Flow


@pytest.fixture(autouse=True)
def _private_media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def eager_tasks():
    """Celery tasks run in the process that queues them (imports, planning, sending, webhooks)."""

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def acme_flow(acme):
    return Flow.objects.create(account=acme, flow_id="AcmeFlw1", name="Reminders", security_id="acme-secret-id")


@pytest.fixture
def globex_flow(globex):
    return Flow.objects.create(account=globex, flow_id="GlobFlw1", name="Dunning", security_id="globex-secret-id")


class Api:
    """requests against the live server, with `Authorization: Api-Key <key>` when a key is given."""

    def __init__(self, base_url: str, key: str | None):
        self.base_url = base_url
        self.session = requests.Session()
        if key:
            self.session.headers["Authorization"] = f"Api-Key {key}"

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base_url}/api/v1/{path.lstrip('/')}"

    def get(self, path, **kwargs):
        return self.session.get(self.url(path), timeout=60, **kwargs)

    def post(self, path, **kwargs):
        return self.session.post(self.url(path), timeout=60, **kwargs)


@pytest.fixture
def acme_key(acme):
    return api_key_create(account=acme, name="Acme CRM")[1]


@pytest.fixture
def globex_key(globex):
    return api_key_create(account=globex, name="Globex scheduler")[1]


@pytest.fixture
def acme_api(live_server, acme_key, acme_flow):
    return Api(live_server.url, acme_key)


@pytest.fixture
def globex_api(live_server, globex_key, globex_flow):
    return Api(live_server.url, globex_key)


@pytest.fixture
def anonymous_api(live_server):
    return Api(live_server.url, None)


def phone(index: int) -> str:
    return f"9198{index:08d}"


def rows(count: int, first: int = 0) -> list[dict]:
    return [{"tel1": phone(first + i), "name": f"Customer {first + i}"} for i in range(count)]
