import io

import pytest

from campaigns.importing import FileRefused, contact_list_create, contact_list_import
from campaigns.models import ContactList
from flows.models import Account, Flow


@pytest.fixture(autouse=True)
def _private_media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def account(db):
    return Account.objects.create(name="Acme Lending", client_id="C129113")


@pytest.fixture
def flow(account):
    return Flow.objects.create(account=account, flow_id="o9vJavuB", name="Reminders", security_id="s3cret-id")


@pytest.fixture
def import_file(flow):
    """Upload bytes as a file and import them at once; returns the refreshed ContactList."""

    def run(data: bytes, filename: str = "list.csv", encoding: str = "") -> ContactList:
        try:
            contact_list = contact_list_create(
                flow=flow,
                fileobj=io.BytesIO(data),
                filename=filename,
                source=ContactList.Source.UPLOAD,
                encoding=encoding,
            )
        except FileRefused as refusal:
            return refusal.contact_list
        return contact_list_import(contact_list_id=contact_list.pk)

    return run
