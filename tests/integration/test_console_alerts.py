"""The operator's console alerts from real runs, at night: what waits, what goes at once.

Each test writes a registry whose quiet hours (in its own time zone) enclose the moment the
test runs, so "held for the morning" and "goes at once" are both observable whatever
the hour the suite runs at; its runs and sensors get resources built on that registry
(the definitions pin theirs when first imported). The failures are real: a revoked
token in the simulator, a sale racing every inventory write; the sensors read what
Dagster recorded.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg
import pytest
import yaml
from flow_builders import Line, RetailerShop

from assets.partitions import FLOWS, HOURLY_FLOWS, partition_key, retailers_partitions_name
from pipelines.alerts import failed_blocking_check_sensor, run_failure_alert_sensor
from pipelines.definitions import defs
from pipelines.resources import build_resources
from resources.registry import DEFAULT_REGISTRY_PATH
from tests.fixtures.flows import (
    RETAILERS,
    check_evaluations,
    evaluate_failure_sensor,
    hour_floor,
)

pytestmark = pytest.mark.integration

NO_HOLD = {"orders_flow": {"config": {"hold_window_minutes": 0}}}
CLEAN = {"unpaid": 0, "cancelled": 0, "hubless_sku": 0, "other_location": 0,
         "no_shipping_address": 0}  # fmt: skip
WAREHOUSE = "gid://shopify/Location/1001"


def night_registry(tmp_path: Path) -> tuple[str, datetime]:
    """The example registry with quiet hours from an hour ago to three hours ahead on its
    own clock (America/Denver): its path, and when they end."""
    raw = yaml.safe_load(DEFAULT_REGISTRY_PATH.read_text())
    zone = ZoneInfo(raw["notifications"]["time_zone"])
    local = datetime.now(UTC).astimezone(zone)
    start, end = local - timedelta(hours=1), local + timedelta(hours=3)
    raw["operations"] = {"quiet_hours": {"start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}}
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path), end.replace(second=0, microsecond=0).astimezone(UTC)


def launch(flow, job: str, first: str, last: str, at: datetime, instance, registry: str,
           ops=None) -> dg.ExecuteInProcessResult:  # fmt: skip
    """One run of `job` over retailers first..last (and the previous and current hour for
    an hourly flow), as a tick or a backfill launches it, on `registry`'s resources."""
    for name in FLOWS:
        known = instance.get_dynamic_partitions(retailers_partitions_name(name))
        missing = [r for r in RETAILERS if r not in known]
        if missing:
            instance.add_dynamic_partitions(retailers_partitions_name(name), missing)
    if job.removesuffix("_job") in HOURLY_FLOWS:
        hour = hour_floor(at)
        first = str(partition_key(first, hour - timedelta(hours=1)))
        last = str(partition_key(last, hour))
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance, raise_on_error=False, resources=build_resources(registry),
        tags={"dagster/asset_partition_range_start": first,
              "dagster/asset_partition_range_end": last},
        run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}},
                    **({"ops": ops} if ops else {})},
    )  # fmt: skip
    result.shopsync_instance = instance  # for check_evaluations
    return result


def outbox(url: str, kind: str | None = None) -> list[dict]:
    with psycopg.connect(url) as conn:
        cur = conn.execute(
            "SELECT kind, dedupe_key, alert_key, critical, held_until, next_attempt_at, repeats,"
            " subject, text, html, recipients FROM shopsync.email_outbox"
            " WHERE %(kind)s::text IS NULL OR kind = %(kind)s ORDER BY id",
            {"kind": kind},
        )
        names = [c.name for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def test_a_flow_failing_for_every_retailer_mails_once_at_once_while_one_retailer_waits(
    flow, monkeypatch, tmp_path
):  # FAULTS P5, P7
    """The hub's token revoked: every retailer of the tick fails at the hub, so the flow is
    down (critical): one email, due now though it is quiet hours, naming every retailer;
    the run-failure sensor adds none, however often it is evaluated. A retailer failing
    alone in its own run is not the flow down: its email waits for the end of the night."""
    registry, quiet_end = night_registry(tmp_path)
    domains = [f"{r}.myshopify.com" for r in RETAILERS]
    flow.sim.run_shopper(domains=domains, count=8, seed=41, mix=CLEAN)
    time.sleep(0.6)  # the simulator's search index lags its writes, as Shopify's does
    hub_token = os.environ[flow.registry.hub.token_env]
    monkeypatch.setenv(flow.registry.hub.token_env, "shpat_revoked_0000")  # 401 at the hub
    queued_from = datetime.now(UTC)
    with dg.instance_for_test() as instance:
        tick = launch(flow, "orders_job", RETAILERS[0], RETAILERS[-1], queued_from, instance,
                      registry, NO_HOLD)  # fmt: skip
        assert not tick.success
        for _ in range(2):  # a re-evaluated tick of the sensors
            evaluate_failure_sensor(run_failure_alert_sensor, instance, tick,
                                    build_resources(registry))  # fmt: skip
    [down] = outbox(flow.db_url, "run_failure")
    assert down["critical"] and down["held_until"] is None
    assert queued_from <= down["next_attempt_at"] <= datetime.now(UTC)
    assert down["subject"].startswith("[shopsync] CRITICAL: run failed: orders flow")
    assert down["alert_key"] == "retailer_failure:orders:hub:ShopifyAuthError"
    for retailer in RETAILERS:
        assert retailer in down["text"]
    assert "shpat_revoked" not in down["text"] + down["html"]

    monkeypatch.setenv(flow.registry.hub.token_env, hub_token)
    monkeypatch.setenv("SHOPSYNC_TOKEN_EPIC_GARDENING", "shpat_revoked_0000")
    with dg.instance_for_test() as instance:
        alone = launch(flow, "orders_job", "epic-gardening", "epic-gardening", queued_from,
                       instance, registry, NO_HOLD)  # fmt: skip
    assert not alone.success
    [_, one] = outbox(flow.db_url, "run_failure")
    assert not one["critical"] and one["held_until"] == one["next_attempt_at"] == quiet_end
    assert one["alert_key"] == "retailer_failure:orders:epic-gardening:ShopifyAuthError"


def test_oversell_exposure_is_a_critical_check_alert_that_skips_quiet_hours(flow, tmp_path):
    """The hub drops to 2 units of a SKU a retailer shows by the dozen, and a shopper buys
    at the retailer just before each of shopsync's writes (stale twice: the write is left
    for the next cycle). The retailer still shows more than the hub can ship: the blocking
    `oversell_exposure_is_zero` fails the run, and its email is critical (due now, in the
    middle of quiet hours), once however often the sensors look, naming the exposure; the
    first cycle's digest of SKUs to fix waits for the morning."""
    registry, quiet_end = night_registry(tmp_path)
    retailer = "nationwide-plants"
    with dg.instance_for_test() as instance:
        first = launch(flow, "inventory_job", retailer, retailer, datetime.now(UTC), instance,
                       registry)  # fmt: skip
    assert first.success
    sku = RetailerShop(flow, retailer).skus(1)[0]
    flow.sim.set_inventory(flow.registry.hub.shop_domain, sku, WAREHOUSE, available=2)
    domain = flow.registry.retailer(retailer).shop_domain
    flow.sim.set_faults(domain, sell_before_inventory_write=2)
    queued_from = datetime.now(UTC)
    with dg.instance_for_test() as instance:
        run = launch(flow, "inventory_job", retailer, retailer, queued_from, instance, registry)
        assert not run.success
        check = check_evaluations(run)["oversell_exposure_is_zero"]
        assert not check.passed and check.metadata["oversell_exposure"].value > 0
        for _ in range(2):
            for sensor in (failed_blocking_check_sensor, run_failure_alert_sensor):
                evaluate_failure_sensor(sensor, instance, run, build_resources(registry))
    [digest, mail] = outbox(flow.db_url)
    # The first cycle's digest (a SKU only the retailer stocks) is not urgent: it waits.
    assert (digest["kind"], digest["critical"]) == ("order_issues", False)
    assert digest["held_until"] == digest["next_attempt_at"] == quiet_end
    assert (mail["kind"], mail["critical"], mail["held_until"]) == ("check_failure", True, None)
    assert queued_from <= mail["next_attempt_at"] <= datetime.now(UTC)
    assert mail["subject"].startswith(
        "[shopsync] CRITICAL: blocking check failed: oversell_exposure_is_zero on inventory_pushes"
    )
    exposure = check.metadata["oversell_exposure"].value
    assert f"oversell_exposure | {exposure}" in mail["text"]
    assert f"Retailer: {retailer}" in mail["text"]


def test_an_order_issue_is_mailed_once_across_runs_and_a_new_one_on_its_own(flow):
    """A quarantined order (its SKU unknown at the hub) is in the digest of the run that
    first sees it; the next runs over the same hour, which see it again, mail nothing; an
    order quarantined later gets a digest of its own, without the first."""
    shop = RetailerShop(flow, "epic-gardening")
    good, missing = shop.skus(1)[0], shop.hubless_sku()
    first = shop.order(Line(good, 1), Line(missing, 2))
    now = datetime.now(UTC)
    for _ in range(2):
        assert flow.run_job("orders_job", "epic-gardening", now, ops=NO_HOLD).success
    [digest] = outbox(flow.db_url, "order_issues")
    assert first.name in digest["text"] and missing in digest["text"]
    assert digest["recipients"] == ["ops@greenhouse-hub.example",
                                    "wholesale@epic-gardening.example"]  # fmt: skip
    second = shop.order(Line(missing, 1))
    assert flow.run_job("orders_job", "epic-gardening", now, ops=NO_HOLD).success
    [_, newer] = outbox(flow.db_url, "order_issues")
    assert second.name in newer["text"] and first.name not in newer["text"]
