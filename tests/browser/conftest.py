"""Browser journeys in Debian's headless Chromium, driven by Playwright for Python.

Playwright never downloads a browser here: it launches /usr/bin/chromium
(CHROMIUM_PATH overrides). Without Chromium the journeys are skipped by name.
Screenshots land in test-output/screenshots/ for people to look at.
"""

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the Django ORM calls
# the tests make for set-up and checks are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    if Path(CHROMIUM).exists():
        return
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=f"needs Chromium at {CHROMIUM}"))


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
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
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser, live_server, transactional_db):  # type: ignore[no-untyped-def]
    """`new_page(viewport=PHONE)`: a fresh browser context on the live server, in Chinese."""
    contexts = []

    def make(viewport: dict[str, int] = PHONE, locale: str = "zh-CN"):  # type: ignore[no-untyped-def]
        context = browser.new_context(viewport=viewport, locale=locale, base_url=live_server.url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def reference_data(transactional_db):  # type: ignore[no-untyped-def]
    """Categories, the inspection checklist and role groups, which an earlier
    transactional test may have flushed."""
    from cases.models import Category
    from inspections.models import ChecklistItem
    from tests.conftest import restore_reference_data

    if not Category.objects.exists() or not ChecklistItem.objects.exists():
        restore_reference_data()


@pytest.fixture
def screenshot(request):  # type: ignore[no-untyped-def]
    """`screenshot(page, "step")` saves test-output/screenshots/<test>-<step>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    test_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)

    def take(page, step: str) -> Path:  # type: ignore[no-untyped-def]
        path = SCREENSHOTS / f"{test_name}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def sign_in(page, username: str, password: str = "pass-1234-word") -> None:  # type: ignore[no-untyped-def]
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
