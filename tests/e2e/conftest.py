"""Browser tests: a real Daphne in a subprocess on the test database, driven by Debian's
Chromium through Playwright.

The server is started once per session (and restarted by the test that restarts it). Tests
use `transactional_db`, so what a test creates is committed and the server sees it.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connections

from tests.servers import DaphneProcess, server_env

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"width": 360, "height": 740}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def off_loop(fn, *args, **kwargs):
    """Run ORM writes in a worker thread. Playwright's sync API keeps an asyncio loop
    running in the test's thread, where publishing an event (async_to_sync) cannot run."""

    def call():
        try:
            return fn(*args, **kwargs)
        finally:
            # PostgreSQL will not drop the test database while this thread's connection lives.
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def live_server_env() -> dict[str, str]:
    """DEBUG on (static files served), and the tests post and log in far faster than people."""
    return server_env(
        DEBUG="1",
        HUILIAO_LOGIN_RATE="1000/min",
        HUILIAO_ROOM_CREATE_RATE="1000/hour",
        LOG_LEVEL="WARNING",
    )


@pytest.fixture(scope="session")
def daphne_server(django_db_setup, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        server = DaphneProcess(live_server_env(), tmp_path_factory.mktemp("daphne"), "e2e")
        server.start()
    yield server
    # Before the test database is dropped: PostgreSQL refuses while the server is connected.
    server.stop()


@pytest.fixture(scope="package", autouse=True)
def _orm_beside_playwright():
    """Playwright's sync API keeps an asyncio loop marked as running in this thread, so
    Django would refuse the tests' own reads (refresh_from_db and the like); they are plain
    sync code, so allow them. Writes go through `off_loop`. Only for this package: the
    browser is stopped (and the loop with it) when the package ends."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def _browsers():
    """One Chromium for these tests, launched by the first test that needs it."""
    launched = {}
    yield launched
    if launched:
        launched["browser"].close()
        launched["playwright"].stop()


@pytest.fixture
def browser(chromium_path, _browsers):
    if "browser" not in _browsers:
        from playwright.sync_api import sync_playwright

        playwright = sync_playwright().start()
        _browsers["playwright"] = playwright
        _browsers["browser"] = playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS
        )
    return _browsers["browser"]


@pytest.fixture
def new_context(browser, daphne_server, transactional_db):
    """Make a phone-sized browser context on the live server; closed after the test."""
    contexts = []

    def make(**options):
        options.setdefault("viewport", PHONE)
        options.setdefault("device_scale_factor", 2)
        options.setdefault("locale", "en-US")
        context = browser.new_context(base_url=daphne_server.http_base, **options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot(request, tmp_path):
    """Save a screenshot of a page under the test's tmp dir; returns the file's path."""

    def take(page, name: str) -> Path:
        path = tmp_path / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    return take
