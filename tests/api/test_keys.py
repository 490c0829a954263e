"""API keys: the header, unknown and revoked keys, last use, and the create_api_key command."""

import io
import json

import pytest
from django.core.management import call_command

from api.keys import api_key_revoke
from api.models import AccountAPIKey
from tests.api.conftest import Api

PROBLEM = "application/problem+json"


def test_a_request_without_a_key_is_refused_with_a_problem_naming_the_scheme(anonymous_api):
    # when
    response = anonymous_api.get("flows/")

    # then
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith(PROBLEM)
    assert response.headers["WWW-Authenticate"] == "Api-Key"
    problem = response.json()
    assert problem["status"] == 401 and problem["title"] == "Unauthorized"
    assert "Authorization: Api-Key" in problem["detail"]


def test_a_wrong_key_is_refused(live_server, acme_key):
    # given a key with its secret part changed

    prefix = acme_key.split(".")[0]

    # when
    response = Api(live_server.url, f"{prefix}.not-the-secret").get("flows/")

    # then
    assert response.status_code == 401
    assert response.json()["detail"] == "The API key is unknown, revoked or expired."


def test_a_revoked_key_is_refused(acme_api, acme_key):
    # given
    assert acme_api.get("flows/").status_code == 200
    api_key_revoke(api_key=AccountAPIKey.objects.get(prefix=acme_key.split(".")[0]))

    # when
    response = acme_api.get("flows/")

    # then
    assert response.status_code == 401


def test_a_used_key_shows_when_it_was_last_used(acme_api, acme_key):
    # when
    acme_api.get("flows/")

    # then
    assert AccountAPIKey.objects.get(prefix=acme_key.split(".")[0]).last_used_at is not None


def test_create_api_key_prints_the_key_once_and_stores_only_its_hash(acme, live_server):
    # when
    out = io.StringIO()
    call_command("create_api_key", "--account", acme.client_id, "--name", "Nightly export", stdout=out)

    # then
    printed = json.loads(out.getvalue())
    assert set(printed) == {"key", "prefix", "account"}
    assert printed["account"] == acme.client_id and printed["key"].startswith(printed["prefix"] + ".")
    stored = AccountAPIKey.objects.get(prefix=printed["prefix"])
    assert printed["key"] not in stored.hashed_key and stored.name == "Nightly export"

    assert Api(live_server.url, printed["key"]).get("flows/").status_code == 200


def test_create_api_key_for_an_unknown_account_prints_an_error_and_exits_1(transactional_db):
    # when
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("create_api_key", "--account", "NOPE", "--name", "x", stdout=out)

    # then
    assert exit_.value.code == 1
    assert json.loads(out.getvalue()) == {"error": "There is no account with client ID 'NOPE'."}
