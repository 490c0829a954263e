"""Every URL of the site, visited anonymously, sends the visitor to a login page or refuses them.

The walk covers the whole URL configuration (the admin included) with sample values for each
path converter, so a page added later without a login check fails here.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

# Public on purpose: the two login pages, the health check load balancers call (no secrets), and the
# delivery-report receiver the provider posts to (its secret URL is the credential: an unknown one is
# refused with 404, tests/dialer/test_outcomes_over_http.py).
PUBLIC = {"login", "admin:login", "health", "outcome_report"}
SAMPLES = {"int": "1", "str": "x", "slug": "x", "uuid": "00000000-0000-0000-0000-000000000001", "path": "x/y"}
LOGIN_PAGES = ("/login/", "/admin/login/")
REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def _sample_for_group(match) -> str:
    body = match.group(0)[len(match.group(1)) + 5 : -1]
    # An alternation of names (the admin's app labels): take the first; anything else: "1".
    first = body.split("|")[0]
    return first if re.fullmatch(r"\w+", first) else "1"


def _fill_regex(pattern: str) -> str:
    text = REGEX_GROUP.sub(_sample_for_group, pattern).lstrip("^").rstrip("$")
    # What regex syntax remains in the admin's patterns: optional slashes and `.*` catch-alls.
    return text.replace("\\Z", "").replace(".*", "x").replace("/?", "/").replace("\\", "")


def _fill(pattern) -> str:
    route = getattr(pattern, "_route", None)
    if route is not None:
        return re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLES.get(m.group(1) or "str", "x"), route)
    return _fill_regex(pattern.regex.pattern)


def walk(resolver=None, prefix="", namespace=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry, prefix + _fill(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else None
            yield name, "/" + prefix + _fill(entry.pattern)


URLS = sorted(set(walk()), key=lambda item: item[1])


def test_the_walk_finds_the_pages():
    names = {name for name, _ in URLS}
    assert {"dashboard", "campaign_detail", "campaign_export", "list_upload", "flow_detail", "admin:index"} <= names
    assert len(URLS) > 40


def _final_location(client, response, hops=3):
    """Follow redirects that stay outside the login pages (a trailing slash, the admin logout's
    redirect to the admin index) until one reaches a login page."""
    location = response["Location"]
    while hops and not location.startswith(LOGIN_PAGES):
        response = client.get(location)
        assert response.status_code in (301, 302), f"{location} answered {response.status_code}"
        location, hops = response["Location"], hops - 1
    return location


@pytest.mark.parametrize("name, url", [item for item in URLS if item[0] not in PUBLIC], ids=lambda v: str(v))
def test_anonymous_visitor_is_sent_to_login_or_refused(client, name, url):
    response = client.get(url)
    if response.status_code == 405:  # POST-only (logout, actions): ask the way a form would
        response = client.post(url)

    assert response.status_code != 200, f"{url} ({name}) answered an anonymous visitor"
    assert response.status_code < 500, f"{url} ({name}) failed with {response.status_code}"
    if response.status_code in (301, 302):
        location = _final_location(client, response)
        assert location.startswith(LOGIN_PAGES), f"{url} ({name}) redirected to {location}"
    else:
        # 401: the metrics endpoint asks for a bearer token or a staff login.
        assert response.status_code in (401, 403), f"{url} ({name}) answered {response.status_code}"
