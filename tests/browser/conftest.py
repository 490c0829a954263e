"""Headless Chromium (the system's /usr/bin/chromium) driven by Playwright's sync API, against
pytest-django's live server, with real worker processes and the sandbox provider."""

import os
import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import start_processes  # noqa: F401 - the fixture, shared with e2e tests

# Playwright's sync API runs an event loop in the test's thread; Django's ORM would refuse to run
# there without this. The ORM calls in these tests are plain synchronous set-up and checks.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def chromium():
    # Module scope: Playwright's event loop and browser end with the browser tests, not with the
    # session, so later tests (and their subprocesses) never run beside them.
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium); browser tests skipped.")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - heavy and optional: browser tests only

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport=DESKTOP, accept_downloads=True)
    context.set_default_timeout(15_000)
    # Every page runs under the Content-Security-Policy: a violation (an inline script or style,
    # eval, a foreign source) is reported by the page itself and fails the test that caused it.
    context.add_init_script(
        """document.addEventListener("securitypolicyviolation", (e) =>
               console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI} on ${e.documentURI}`));"""
    )
    page = context.new_page()
    errors, violations, unprotected = [], [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text or "CSP violation" in message.text else None)
    page.on("response", lambda response: unprotected.append(response.url)
            if response.request.resource_type == "document" and response.status != 302
            and "content-security-policy" not in response.headers else None)
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the pages: {errors}"
    assert not violations, f"Content-Security-Policy violations: {violations}"
    assert not unprotected, f"Pages sent without a Content-Security-Policy: {unprotected}"


@pytest.fixture
def screenshots(artifacts_dir):
    """shoot(page, name): a full-page screenshot at desktop width and one at phone width."""
    folder = artifacts_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(page, name: str):
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=folder / f"{name}-desktop.png", full_page=True)
        page.set_viewport_size(PHONE)
        page.screenshot(path=folder / f"{name}-phone.png", full_page=True)
        page.set_viewport_size(DESKTOP)

    return shoot


@pytest.fixture
def media_root(settings, tmp_path):
    """Uploads go to a private folder the worker processes are told about."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
