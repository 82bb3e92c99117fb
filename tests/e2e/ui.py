"""Page helpers for the Dagster UI (dagster-webserver 1.13): what an operator clicks.

Selectors are visible text, roles and labels (the React app's CSS class names are
hashed and change between releases). Every check runs inside `Shots.step`, which saves
a screenshot under a meaningful name and, when the check fails, names that screenshot
in the assertion message, so a red CI run shows what the browser saw.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, expect
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

#: The React app loads data after the page: waits are generous (a 2-core CI machine).
TIMEOUT_MS = 45_000
expect.set_options(timeout=TIMEOUT_MS)
#: The community newsletter dialog covers the first page a new browser profile opens.
_NO_NUX = (
    "window.localStorage.setItem('communityNux', '\"1\"');"
    "window.localStorage.setItem('dagster.community-nux', '1');"
)


def new_page(browser: Browser) -> Page:
    """A page in a fresh profile, without the newsletter dialog, English and UTC (the UI
    formats times in the browser's zone; the tick picker's labels depend on it)."""
    context = browser.new_context(
        viewport={"width": 1920, "height": 1200}, locale="en-US", timezone_id="UTC"
    )
    context.add_init_script(_NO_NUX)
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


@dataclass
class Shots:
    """Screenshots of one test session, in the test's output folder."""

    out: Path

    def take(self, page: Page, name: str) -> Path:
        path = self.out / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path

    @contextmanager
    def step(self, page: Page, name: str, what: str) -> Iterator[None]:
        """Check `what` in the browser; screenshot `name` (or `name_FAILED`) either way."""
        try:
            yield
        except (AssertionError, PlaywrightError) as exc:
            path = self.take(page, f"{name}_FAILED")
            raise AssertionError(f"{what}: {exc}\nscreenshot: {path}") from None
        self.take(page, name)


def open_page(page: Page, base: str, path: str) -> None:
    page.goto(base + path, wait_until="domcontentloaded")


def text(page: Page, value: str) -> Locator:
    """Visible text (the UI renders truncatable names twice: shown and a hidden measure)."""
    return page.get_by_text(value, exact=True).first


# -- partitions -------------------------------------------------------------------------------


def partitions_tab(page: Page, base: str, asset: str, partition: str | None = None) -> None:
    """An asset's Partitions tab, with `partition` (`hour|retailer` or a day) selected."""
    query = f"?view=partitions&partition={partition}" if partition else "?view=partitions"
    open_page(page, base, f"/assets/{asset}{query.replace('|', '%7C')}")
    expect(page.get_by_text(re.compile(r"^\d+ Partitions? Selected$"))).to_be_visible()
    if partition:
        expect(page.get_by_text(partition, exact=True).first).to_be_visible()


def status_count(page: Page, status: str) -> int:
    """The count the Partitions tab shows beside a status ('Failed (2)')."""
    label = page.get_by_text(re.compile(rf"^{status} \(\d+\)$"))
    expect(label).to_be_visible()
    return int(re.search(r"\((\d+)\)", label.inner_text()).group(1))


def materialize_button(page: Page) -> Locator:
    """The asset page's Materialize (unpartitioned) or Materialize… (partitioned) button;
    its accessible name starts with its icon's label."""
    return page.get_by_role("button", name=re.compile(r"(^|\s)Materialize…?$")).first


def _confirm_while_asked(page: Page, target: Locator) -> None:
    """Click Confirm on the warnings Materialize may raise first (the multi-asset's sibling
    comes along; upstream assets are not materialized yet) until `target` shows."""
    confirm = page.get_by_role("button", name="Confirm")
    for _ in range(4):
        expect(confirm.or_(target).first).to_be_visible()
        if target.first.is_visible():
            return
        # A confirmation may close (animating) as the next one or the target opens.
        with contextlib.suppress(PlaywrightTimeoutError):
            confirm.first.click(timeout=3_000)
    expect(target.first).to_be_visible()


def open_materialize_dialog(page: Page) -> Locator:
    """Materialize… on a partitioned asset's page: the partition dialog."""
    materialize_button(page).click()
    dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
    _confirm_while_asked(page, dialog)
    return dialog


def materialize_now(page: Page) -> str:
    """Materialize on an unpartitioned asset's page; returns the launched run's prefix."""
    materialize_button(page).click()
    _confirm_while_asked(page, _launched_toast(page))
    return launched_run_prefix(page)


def _launched_toast(page: Page) -> Locator:
    return page.get_by_text(re.compile(r"^Launched run [0-9a-f]{8}$"))


def launched_run_prefix(page: Page) -> str:
    """The run id (8 characters) of the toast 'Launched run 1a2b3c4d'."""
    toast = _launched_toast(page)
    expect(toast).to_be_visible()
    return toast.inner_text().split()[-1]


def choose_retailer(page: Page, dialog: Locator, retailer: str) -> None:
    dialog.get_by_text("Select a partition or create one").click()
    menu = page.locator("[data-radix-popper-content-wrapper]").last
    menu.get_by_text(retailer, exact=True).first.click()
    dialog.get_by_text("Launch runs to materialize").click()  # close the menu


def select_failed_partitions(page: Page, hours: tuple[str, str], retailer: str) -> Locator:
    """In the open Materialize… dialog: the retailer's hours `hours[0]`…`hours[1]`, only
    those failed or missing (a backfill). Returns the dialog, ready to launch."""
    dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize")
    hour_input = dialog.get_by_placeholder(re.compile("^ex: "))
    hour_input.fill(f"[{hours[0]}...{hours[1]}]")
    hour_input.press("Enter")
    choose_retailer(page, dialog, retailer)
    dialog.get_by_text("Backfill only failed and missing partitions within selection").click()
    return dialog


def launch_schedule_tick(page: Page, base: str, schedule: str, tick_label: str) -> None:
    """A schedule's page → Preview tick result → the tick `tick_label` → launch its runs
    (the run the daemon would have launched at that tick)."""
    open_page(page, base, f"/locations/pipelines.definitions/schedules/{schedule}")
    page.get_by_role("button", name="Preview tick result").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(re.compile(r"^[A-Z][a-z]{2} \d+, .* UTC$")).first.click()
    page.get_by_text(tick_label, exact=True).last.click()
    dialog.get_by_role("button", name="Continue").click()
    dialog.get_by_role("button", name="Launch all & commit tick result").click()
    expect(page.get_by_text("Launched 1 runs")).to_be_visible()
