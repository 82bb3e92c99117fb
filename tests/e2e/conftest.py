"""Package fixtures of the browser test: Debian's chromium, one running stack (simulator +
`dagster dev` on scratch databases) for all tests, a fresh browser page per test, and what
the UI should show, taken from the project's own Definitions and test registry.

Without /usr/bin/chromium the test fails when CI is set (CI must not go green without
having driven a browser) and is skipped on a laptop. No browser is ever downloaded.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e import api
from tests.e2e.expected import Expected, expected_for
from tests.e2e.processes import wait_until
from tests.e2e.stack import Stack, start_stack
from tests.e2e.ui import Shots, new_page

log = logging.getLogger(__name__)
CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = Path(__file__).resolve().parent / "output"


@pytest.fixture(scope="package")
def chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    message = (
        f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install chromium`); "
        "the e2e test drives that browser and never downloads one"
    )
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="package")
def output_dir() -> Path:
    """tests/e2e/output/, emptied first so every screenshot in it is from this session."""
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir(parents=True)
    return OUTPUT


@pytest.fixture(scope="package")
def shots(output_dir: Path) -> Shots:
    return Shots(output_dir)


@pytest.fixture(scope="package")
def stack(chromium: Path, output_dir: Path, tmp_path_factory) -> Iterator[Stack]:
    began = time.monotonic()
    started = start_stack(output_dir, tmp_path_factory.mktemp("e2e"))
    log.info("simulator and dagster dev ready in %.1fs", time.monotonic() - began)
    try:
        api.stop_running_schedules(started)
        yield started
    finally:
        started.stop()


# Package scope, not session: Playwright's sync API keeps an asyncio loop running in the
# main thread while it is open; closed when the e2e package ends, the tests collected
# after it (asyncio.run in dagster_graphql's test utils) never meet it.
@pytest.fixture(scope="package")
def browser(chromium: Path) -> Iterator[Browser]:
    began = time.monotonic()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), headless=True)
        log.info("chromium %s launched in %.1fs", launched.version, time.monotonic() - began)
        yield launched
        launched.close()


@pytest.fixture
def page(stack: Stack, browser: Browser) -> Iterator[Page]:
    opened = new_page(browser)
    yield opened
    opened.context.close()


@pytest.fixture(scope="package")
def expected(stack: Stack) -> Expected:
    began = time.monotonic()
    found = expected_for(stack.registry)
    # The registry sensor (the daemon runs it) adds the retailer partitions.
    asset, flow = found.hourly_assets()[0]
    wait_until(
        "retailer partitions from the registry sensor",
        lambda: api.partition_keys(stack, asset).get("retailer") == found.retailers[flow],
        90, [stack.out / "dagster_dev.log"],
    )  # fmt: skip
    log.info("definitions built, retailer partitions there in %.1fs", time.monotonic() - began)
    return found
