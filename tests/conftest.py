"""Fixtures shared by every test: the sandbox over HTTP, a browser, users."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.fixtures_certificates import certified_signer  # noqa: F401
from tests.servers import ServerThread

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses to run
# "inside" it unless told the test thread is not really async.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("PARAF_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(autouse=True)
def _isolated_files(settings: Any, tmp_path: Path) -> None:
    """Each test writes private files and sandbox state into its own folder."""
    settings.MEDIA_ROOT = tmp_path / "private"
    settings.EMAIL_FILE_PATH = tmp_path / "mail"


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    """Forget rate limits, tokens and breaker state between tests (only this run's keys)."""
    from django.core.cache import cache

    yield
    try:
        prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
        if prefix and hasattr(cache, "_cache"):
            client = cache._cache.get_client(write=True)
            for key in client.scan_iter(match=f"{prefix}:*"):
                client.delete(key)
        else:
            cache.clear()
    except Exception:  # noqa: BLE001,S110 - the DB cache table may not exist in non-DB tests
        pass


@pytest.fixture(scope="session")
def sandbox_server(django_db_setup: Any, django_db_blocker: Any) -> Iterator[ServerThread]:
    """The sandbox served by a thread on its own port (its own origin), for the whole session."""
    from sandbox.wsgi import SandboxWSGIHandler

    with django_db_blocker.unblock():
        server = ServerThread(SandboxWSGIHandler()).start_and_wait()
        yield server
        server.stop()


@pytest.fixture
def sandbox(sandbox_server: ServerThread, transactional_db: Any, settings: Any) -> str:
    """The sandbox's base URL, with Paraf's Peruri settings pointing at it.

    Needs `transactional_db`: the sandbox answers from another thread with its own
    connection, so it must see committed rows.
    """
    url = sandbox_server.url
    settings.PERURI_BASE_URL = f"{url}/gateway/"
    settings.PERURI_WEBVIEW_URL = f"{url}/webview"
    settings.PERURI_TRUST_ROOT_URL = f"{url}/sandbox/ca.pem"
    settings.SANDBOX_PUBLIC_URL = url
    return url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright. In CI a browser that cannot start is a failure."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover
        if os.environ.get("CI"):
            pytest.fail(f"Playwright is not installed: {exc}")
        pytest.skip("Playwright is not installed")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}")
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
            ],
        )
    except Exception as exc:  # noqa: BLE001
        pw.stop()
        if os.environ.get("CI"):
            pytest.fail(f"Chromium did not start: {exc}")
        pytest.skip(f"Chromium did not start: {exc}")
    yield chromium
    chromium.close()
    pw.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="id-ID")
    context.set_default_timeout(15_000)
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def app_server(live_server: Any, settings: Any) -> str:
    """Paraf served over HTTP (pytest-django's live server) with links pointing at it."""
    settings.SITE_URL = live_server.url
    settings.SANDBOX_FRAME_ANCESTORS = [live_server.url]
    return str(live_server.url)


@pytest.fixture
def staff_user(db: Any) -> Any:
    from tests.factories import StaffFactory

    return StaffFactory(email="staf@example.com", password="rahasia-staf-123")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Run browser journeys last.

    Once Playwright's sync API has started, an asyncio loop runs in the main thread for the rest
    of the session, and code that calls asyncio.run() (pyHanko's signing and validation) fails
    there. `make test` runs the two groups in separate processes; this keeps a plain `pytest` safe.
    """
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
