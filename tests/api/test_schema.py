"""The OpenAPI schema validates and is served to keys and logged-in managers; the docs use local files."""

import yaml
from django.contrib.auth.models import User
from drf_spectacular.validation import validate_schema


def test_the_schema_is_valid_openapi_and_names_every_resource(acme_api):
    # when
    response = acme_api.get("schema/")

    # then
    assert response.status_code == 200
    schema = yaml.safe_load(response.text)
    validate_schema(schema)
    assert {"/api/v1/flows/", "/api/v1/lists/", "/api/v1/lists/{id}/rows/", "/api/v1/campaigns/{id}/pause/",
            "/api/v1/campaigns/{id}/calls/", "/api/v1/campaigns/{id}/results.csv"} <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["ApiKey"]["name"] == "Authorization"


def test_the_docs_page_needs_a_login_and_loads_nothing_from_a_cdn(live_server, client, transactional_db):
    # given
    assert client.get("/api/v1/docs/").status_code == 302
    client.force_login(User.objects.create_user("alice", password="pw-alice-123"))

    # when
    page = client.get("/api/v1/docs/").content.decode()

    # then
    assert "swagger-ui" in page and "/static/drf_spectacular_sidecar/" in page
    assert "cdn" not in page.lower() and "unpkg" not in page
    assert client.get("/api/v1/schema/").status_code == 200
