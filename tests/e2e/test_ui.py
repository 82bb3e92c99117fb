"""The paths the README promises an operator, driven in a real browser (headless Chromium)
against `dagster dev` on Postgres and the Shopify simulator.

Every check is made on what the page shows (text, links, the graph's SVG); Dagster's
GraphQL API only says when a launched run has finished, which run or backfill a click
created and what figure a page should show. Screenshots: tests/e2e/output/01_… to 07_….
The tests share one stack and run in file order. Two share state, on purpose: one
launches a backfill of failed partitions, the last one checks it healed them, so the
backfill daemon's pick-up delay (up to 30 s) is spent running the report tests.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e import api, graph, ui
from tests.e2e.expected import Expected
from tests.e2e.stack import Stack
from tests.e2e.ui import Shots, new_page

pytestmark = pytest.mark.e2e

HOUR = "%Y-%m-%d-%H:00"
GOOD, BROKEN = "epic-gardening", "nationwide-plants"
#: Named by the issue (daily-partitioned, markdown report with an inline PNG chart).
DAILY_SUMMARY = "daily_summary"


def hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def test_asset_graph_shows_every_asset_with_its_lineage(
    page: Page, stack: Stack, shots: Shots, expected: Expected
):
    graph.show_whole_graph(page, stack.ui_url)
    with shots.step(page, "01_asset_graph", "the asset graph draws the Definitions"):
        expect(page.locator(graph.NODE_NAMES)).to_have_count(len(expected.assets))
        drawn, edges = graph.read_asset_graph(page)
        want = expected.assets
        assert drawn == want, f"missing {sorted(want - drawn)}, extra {sorted(drawn - want)}"
        assert ("hub_orders", "hub_fulfillments") in edges
        lost, extra = sorted(expected.edges - edges), sorted(edges - expected.edges)
        assert not lost and not extra, f"edges missing {lost}, extra {extra}"
    with shots.step(page, "01b_lineage_hub_fulfillments", "the asset page names its upstream"):
        assert graph.upstream_on_overview(page, stack.ui_url, "hub_fulfillments") == {"hub_orders"}


def test_hourly_assets_list_the_retailer_partitions(
    page: Page, stack: Stack, shots: Shots, expected: Expected
):
    assert expected.hourly_assets(), "the Definitions have no retailer × hour asset"
    for asset, flow in expected.hourly_assets():
        retailers = expected.retailers[flow]
        ui.partitions_tab(page, stack.ui_url, asset)
        with shots.step(page, f"02_partitions_{asset}", f"{asset} lists retailer × hour"):
            expect(page.get_by_placeholder("Filter by retailer…")).to_be_visible()
            expect(page.get_by_placeholder("Filter by hour…")).to_be_visible()
            for retailer in retailers:
                expect(ui.text(page, retailer)).to_be_visible()
            expect(ui.text(page, f"{hour_floor(datetime.now(UTC)):{HOUR}}")).to_be_visible()
            shown = page.get_by_text(re.compile(r"^\d+ Partitions Selected$")).inner_text()
            hours = {expected.hour_count(asset), expected.hour_count(asset) - 1}  # hour turned
            assert int(shown.split()[0]) in {h * len(retailers) for h in hours}, (
                f"{shown}: expected {sorted(hours)} hours × {len(retailers)} retailers"
            )


@pytest.fixture(scope="package")
def ui_materialization(browser: Browser, stack: Stack, shots: Shots) -> tuple[str, api.Run]:
    """One partition materialized from its asset page: select it, Materialize…, Launch."""
    partition = f"{hour_floor(datetime.now(UTC)) - timedelta(hours=1):{HOUR}}|{GOOD}"
    page = new_page(browser)
    try:
        ui.partitions_tab(page, stack.ui_url, "hub_orders", partition)
        with shots.step(page, "03a_launch_one_partition", f"launching {partition}"):
            dialog = ui.open_materialize_dialog(page)
            expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
            dialog.get_by_role("button", name="Launch 1 run").click()
            prefix = ui.launched_run_prefix(page)
    finally:
        page.context.close()
    return partition, api.wait_for_run(stack, api.run_by_prefix(stack, prefix).run_id)


def test_a_partition_materialized_from_the_ui_succeeds(
    page: Page, stack: Stack, shots: Shots, ui_materialization
):
    partition, run = ui_materialization
    assert run.status == "SUCCESS", api.run_errors(stack, run.run_id)
    assert run.tags.get("dagster/partition") == partition
    ui.partitions_tab(page, stack.ui_url, "hub_orders", partition)
    with shots.step(page, "03_materialized_from_ui", f"{partition} shows its materialization"):
        expect(page.get_by_role("link", name=run.run_id[:8]).first).to_be_visible()
        expect(ui.text(page, "figures_cover")).to_be_visible()
        expect(page.get_by_text("did not materialize this asset")).to_have_count(0)


def test_asset_check_results_show_their_partition(
    page: Page, stack: Stack, shots: Shots, expected: Expected, ui_materialization
):
    partition, run = ui_materialization
    checks = expected.checks("hub_orders")
    assert checks, "hub_orders has no asset checks in the Definitions"
    ui.open_page(page, stack.ui_url, "/assets/hub_orders?view=checks")
    with shots.step(page, "05_check_with_partition", "hub_orders' checks show their partition"):
        for name in checks:
            page.locator(f'[title="{name}"]').first.click()
            expect(page).to_have_url(re.compile(f"checkDetail={name}"))
            expect(page.get_by_text("Latest execution")).to_be_visible()
            # The evaluation links to the run that made it, on the partition it judged.
            expect(page.locator(f'a[href^="/runs/{run.run_id}"]').first).to_be_visible()
            expect(ui.text(page, partition)).to_be_visible()
            expect(ui.text(page, "Passed")).to_be_visible()


def _tick_label(tick: datetime) -> str:
    """How 'Preview tick result' names a tick: 'Dec 3, 1:15 PM UTC'."""
    return f"{tick:%b} {tick.day}, {tick.hour % 12 or 12}:{tick:%M} {tick:%p} UTC"


@pytest.fixture(scope="package")
def launched_backfill() -> dict:
    """Filled by the test that launches the backfill, read by the one (last in the file)
    that checks it healed: the backfill daemon picks backfills up every 30 s, and the two
    report tests run meanwhile instead of waiting."""
    return {}


def test_a_failed_partition_shows_failed_and_is_backfilled_from_the_ui(
    page: Page, stack: Stack, shots: Shots, launched_backfill: dict
):
    now = datetime.now(UTC)
    tick = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    hours = (hour_floor(tick) - timedelta(hours=1), hour_floor(tick))  # what a tick covers
    failed = [f"{h:{HOUR}}|{BROKEN}" for h in hours]
    faults = f"stores/{BROKEN}.myshopify.com/faults"
    stack.sim_admin(faults, {"http_503": 1.0})  # every call to that store: 503
    with shots.step(page, "04a_tick_launched", f"launching the orders_schedule tick of {tick}"):
        ui.launch_schedule_tick(page, stack.ui_url, "orders_schedule", _tick_label(tick))
    tick_tag = {"shopsync/tick": f"{tick:%Y-%m-%dT%H:%M}"}
    (run,) = api.wait_for_runs(stack, lambda: api.runs(stack, tick_tag), "the tick's run")
    assert run.status == "FAILURE", f"the tick's run did not fail: {run}"
    stack.sim_admin(faults, {"clear": True})  # the fix

    ui.partitions_tab(page, stack.ui_url, "hub_orders", failed[-1])
    with shots.step(page, "04b_partition_failed", f"{failed} show failed"):
        banner = f"Run {run.run_id[:8]} failed, and did not materialize this asset."
        expect(page.get_by_text(banner)).to_be_visible()
        assert ui.status_count(page, "Failed") == len(failed)

    ui.partitions_tab(page, stack.ui_url, "hub_orders")
    with shots.step(page, "04c_backfill_of_failed", "a backfill of the failed partitions"):
        ui.open_materialize_dialog(page)
        span = (f"{hours[0]:{HOUR}}", f"{hours[1]:{HOUR}}")
        dialog = ui.select_failed_partitions(page, span, BROKEN)
        notice = f"Only {len(failed)} failed and missing partitions"
        expect(dialog.get_by_text(re.compile(notice))).to_be_visible()
    dialog.get_by_role("button", name="Launch backfill").click()
    expect(dialog).to_be_hidden()
    backfill = api.latest_backfill(stack)
    assert sorted(backfill["partitionNames"]) == failed, backfill
    ui.open_page(page, stack.ui_url, f"/runs/b/{backfill['id']}")
    with shots.step(page, "04d_backfill_page", "the backfill page lists the failed partitions"):
        for key in failed:
            expect(ui.text(page, key)).to_be_visible()
    launched_backfill.update(id=backfill["id"], failed=failed)


def test_exception_queue_shows_its_metadata(page: Page, stack: Stack, shots: Shots):
    ui.open_page(page, stack.ui_url, "/assets/exception_queue")
    with shots.step(page, "06a_exception_queue_launch", "Materialize exception_queue"):
        prefix = ui.materialize_now(page)
    run = api.wait_for_run(stack, api.run_by_prefix(stack, prefix).run_id)
    assert run.status == "SUCCESS", api.run_errors(stack, run.run_id)
    latest = api.latest_materialization(stack, "exception_queue")
    assert latest["run_id"] == run.run_id, latest
    count = latest["metadata"]["exceptions"]
    ui.open_page(page, stack.ui_url, "/assets/exception_queue")
    with shots.step(page, "06_exception_queue", "exception_queue shows its metadata"):
        for label in ("exceptions", "oldest_wait_hours", "queue"):
            expect(ui.text(page, label)).to_be_visible()
        row = page.get_by_role("row").filter(has=page.get_by_text("exceptions", exact=True))
        expect(row.first.get_by_role("cell").last).to_have_text(str(count))
        queue = page.get_by_role("row").filter(has=page.get_by_text("queue", exact=True)).first
        if count == 0:
            expect(queue).to_contain_text("No exceptions: nothing waits for a person.")
        else:  # the markdown table: a header and one row per exception (up to 200)
            expect(queue.locator("table tr")).to_have_count(min(count, 200) + 1)


def test_daily_summary_shows_its_chart(page: Page, stack: Stack, shots: Shots):
    graph.show_whole_graph(page, stack.ui_url)
    with shots.step(page, "07a_daily_summary_node", f"the graph has a {DAILY_SUMMARY} node"):
        expect(page.locator(f'{graph.NODE_NAMES}[data-tooltip="{DAILY_SUMMARY}"]')).to_be_visible()
    (days,) = api.partition_keys(stack, DAILY_SUMMARY).values()
    day = days[-1]  # the day still open (the summary so far)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", day), f"{DAILY_SUMMARY} partitions: {days}"
    ui.partitions_tab(page, stack.ui_url, DAILY_SUMMARY, day)
    with shots.step(page, "07b_daily_summary_launch", f"Materialize {DAILY_SUMMARY} {day}"):
        dialog = ui.open_materialize_dialog(page)
        dialog.get_by_role("button", name="Launch 1 run").click()
        prefix = ui.launched_run_prefix(page)
    run = api.wait_for_run(stack, api.run_by_prefix(stack, prefix).run_id)
    assert run.status == "SUCCESS", api.run_errors(stack, run.run_id)
    ui.partitions_tab(page, stack.ui_url, DAILY_SUMMARY, day)
    with shots.step(page, "07_daily_summary", f"{DAILY_SUMMARY} shows markdown with a chart"):
        row = page.get_by_role("row").filter(has_text="[Show Markdown]").first
        row.get_by_text("[Show Markdown]").click()
        chart = page.get_by_role("dialog").locator("img[src^='data:image/png']").first
        expect(chart).to_be_visible()
        chart.scroll_into_view_if_needed()
        assert chart.evaluate("img => img.naturalWidth") > 0, "the chart image does not render"


def test_the_backfill_heals_the_failed_partitions(
    page: Page, stack: Stack, shots: Shots, launched_backfill: dict
):
    if not launched_backfill:
        pytest.fail("no backfill was launched: see the test before, which launches it")
    backfill, failed = launched_backfill["id"], launched_backfill["failed"]
    by_backfill = {"dagster/backfill": backfill}
    healed = api.wait_for_runs(stack, lambda: api.runs(stack, by_backfill), "backfill runs")
    assert all(r.status == "SUCCESS" for r in healed), api.run_errors(stack, healed[0].run_id)

    ui.partitions_tab(page, stack.ui_url, "hub_orders", failed[-1])
    with shots.step(page, "04_backfill_healed", f"{failed} show materialized by the backfill"):
        expect(page.get_by_role("link", name=healed[0].run_id[:8]).first).to_be_visible()
        expect(page.get_by_text("did not materialize this asset")).to_have_count(0)
        assert ui.status_count(page, "Failed") == 0
