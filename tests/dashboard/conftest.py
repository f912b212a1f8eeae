"""Fixtures for the dashboard's browser tests: Debian's Chromium driven by Playwright, and broker URLs.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (``.ci/run``
installs the ``chromium`` package when it is missing).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import service_unavailable

CHROMIUM = os.environ.get("QUEUEKIT_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for the module's tests."""
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        service_unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_unavailable('the playwright package is missing (pip install "queuekit[test]")')
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (its own context: no token left in sessionStorage by another test).

    The test fails if the page's script threw, or if the page loaded anything from another host.
    """
    context = browser.new_context(viewport={"width": 1200, "height": 760})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(f"script error: {error}"))
    tab.on("console", lambda message: errors.append(f"console {message.type}: {message.text}")
           if message.type == "error" and "status of 40" not in message.text else None)
    tab.on("request", lambda request: errors.append(f"request to another host: {request.url}")
           if not request.url.startswith(("http://127.0.0.1:", "data:", "about:")) else None)
    yield tab
    context.close()
    assert not errors, errors


@pytest.fixture(params=["sqlite", "redis"])
def broker_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A broker of the test's own: a SQLite file in its folder, or a key prefix on the shared Redis."""
    if request.param == "sqlite":
        monkeypatch.chdir(tmp_path)  # a short relative URL, as the screenshots show it
        yield "sqlite:///dashboard.db"
        return
    from tests.redis.servers import delete_prefix, shared_url_or_skip, unique_prefix

    url = shared_url_or_skip()
    prefix = unique_prefix()
    yield f"{url}?prefix={prefix}"
    delete_prefix(url, prefix)
