"""Real-browser fixtures: one headless Chromium for the session, a fresh context (profile) per test.

The tests drive Debian's Chromium through Playwright's sync API against pytest-django's `live_server`.
`live_server` runs on a transactional database, so everything a test sets up is really committed and
`transaction.on_commit` callbacks (SMS, webhooks) fire as in production; Celery tasks run eagerly.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A wrong selector or a page that never arrives should fail in seconds, not after Playwright's 30 s.
TIMEOUT_MS = 10_000
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}


def pytest_collection_modifyitems(config, items):
    """Run the e2e tests after all others, so that the browser below lives only at the end of the session.

    While Playwright runs, the main thread has a running event loop and DJANGO_ALLOW_ASYNC_UNSAFE is set
    (see `browser`). Tests that ran after it would inherit both: the variable would leak into the child
    processes they start (`manage.py check --deploy` then fails with async.E001) and the loop would hide
    async-safety mistakes in the code they test.
    """
    items.sort(key=lambda item: "e2e" in item.keywords)  # stable: the order within each group is kept


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for all e2e tests; each test opens its own context (fresh cookies and storage)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package to run the e2e tests")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio event loop marked as running in the main thread from start to
    # stop, i.e. for as long as this session-scoped browser exists. Django's `async_unsafe` guard sees that
    # loop and raises SynchronousOnlyOperation for every ORM call the tests make (creating data, reading
    # the outbox, asserting database state). The guard is there to catch ORM calls from inside a coroutine;
    # here none happens (the loop only talks to the browser, and our code is suspended while it runs), so
    # switching it off is safe. It is switched off only while Playwright runs, not at import: set at import,
    # it would reach every test of the run and the child processes they start (see above).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            # Playwright launches with a fresh temporary profile (user data dir) that it deletes on close.
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _page(browser, **options):
    # English pages: the project's default language is Chinese, and the tests find buttons by their text.
    context = browser.new_context(locale="en-US", **options)
    context.set_default_timeout(TIMEOUT_MS)
    return context, context.new_page()


@pytest.fixture
def phone_page(browser, live_server, transactional_db):
    """A person's phone: small touch screen, fresh profile."""
    context, page = _page(browser, **PHONE)
    yield page
    context.close()


@pytest.fixture
def desktop_page(browser, live_server, transactional_db):
    """An operator's desktop browser, fresh profile."""
    context, page = _page(browser, **DESKTOP)
    yield page
    context.close()


def path_of(page) -> str:
    return urlsplit(page.url).path


def person_signs_in(page, phone: str) -> None:
    """On /signin/: type the phone, read the SMS code from the dev outbox, type it.

    Where the sign-in leads depends on the `next` the page was opened with: the caller waits for that URL.
    """
    from tests.consent.conftest import last_code

    assert path_of(page) == "/signin/", page.url
    page.get_by_label("Mobile number").fill(phone)
    page.get_by_role("button", name="Send code").click()
    page.wait_for_url("**/signin/code/")
    page.get_by_label("6-digit code from the SMS").fill(last_code(phone))
    page.get_by_role("button", name="Sign in", exact=True).click()
