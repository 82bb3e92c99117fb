"""Alert sensors and the daily summary job, evaluated against real Dagster instances.

Jobs really fail (an asset raising, a blocking check failing) on a retailer × hour
partition; the sensors then read what Dagster recorded and queue the email.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import psycopg
import pytest

from assets.partitions import partition_key, retailer_hourly_partitions, retailers_partitions_name
from pipelines.alerts import (
    failed_blocking_check_sensor,
    run_failure_alert_sensor,
)
from resources.email import EmailResource
from resources.postgres import PostgresResource
from resources.registry import DEFAULT_PARTITIONS_START, RegistryResource
from tests.fixtures.flows import evaluate_failure_sensor

pytestmark = pytest.mark.integration

TOKEN = "canary-epic-token-4e1d"  # noqa: S105 - a canary, not a credential
OPS = "ops@greenhouse-hub.example"
EPIC = "wholesale@epic-gardening.example"
PARTITION = partition_key("epic-gardening", datetime(2026, 11, 25, 5, tzinfo=UTC))


PARTITIONS = retailer_hourly_partitions("orders", DEFAULT_PARTITIONS_START)


@dg.asset(partitions_def=PARTITIONS)
def exploding_orders() -> None:
    raise RuntimeError(f"<b>boom</b> with token {TOKEN}\nsecond line")


@dg.asset(partitions_def=PARTITIONS)
def checked_orders() -> None:
    pass


@dg.asset_check(asset=checked_orders, blocking=True)
def hub_orders_are_unique() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=False, metadata={"duplicate_ids": "<i>gid://shopify/Order/1</i>", "count": 2}
    )


@dg.asset_check(asset=checked_orders, blocking=False)
def advisory_check() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False)


@pytest.fixture
def outbox(db: psycopg.Connection) -> psycopg.Connection:
    db.execute("DELETE FROM shopsync.email_alerted")
    db.execute("DELETE FROM shopsync.email_outbox")
    return db


@pytest.fixture
def resources(postgres: PostgresResource, monkeypatch) -> dict[str, object]:
    monkeypatch.setenv("SHOPSYNC_TOKEN_EPIC_GARDENING", TOKEN)
    email = EmailResource(postgres=postgres, outbox_only=True)
    return {"email": email, "registry": RegistryResource()}


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(retailers_partitions_name("orders"), ["epic-gardening"])
        yield instance


def _run(instance: dg.DagsterInstance, asset, checks=()) -> dg.ExecuteInProcessResult:
    defs = dg.Definitions(assets=[asset], asset_checks=list(checks))
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(instance=instance, partition_key=PARTITION, raise_on_error=False)


def _rows(db: psycopg.Connection, kind: str) -> list[tuple]:
    return db.execute(
        "SELECT dedupe_key, recipients, subject, html, text FROM shopsync.email_outbox"
        " WHERE kind = %s ORDER BY id",
        (kind,),
    ).fetchall()


def _policy(db: psycopg.Connection, kind: str) -> list[tuple]:
    return db.execute(
        "SELECT alert_key, critical, repeats, held_until IS NULL FROM shopsync.email_outbox"
        " WHERE kind = %s ORDER BY id",
        (kind,),
    ).fetchall()


def test_failed_run_emails_ops_and_the_partitions_retailer(outbox, resources, instance):
    result = _run(instance, exploding_orders)
    assert not result.success
    assert result.dagster_run.tags["dagster/partition/retailer"] == "epic-gardening"
    again = _run(instance, exploding_orders)  # the next tick fails the same way (P5)
    for run in (result, result, again):  # re-evaluated ticks alert once, repeats group
        evaluate_failure_sensor(run_failure_alert_sensor, instance, run, resources)
    [(key, recipients, subject, html, text)] = _rows(outbox, "run_failure")
    assert key == f"run_failure:{result.run_id}"
    [(alert_key, critical, repeats, _)] = _policy(outbox, "run_failure")
    assert (alert_key, critical) == ("run_failure:__ASSET_JOB:epic-gardening:RuntimeError", False)
    assert repeats == 1  # the second run's failure, counted on the first email
    assert recipients == [OPS, EPIC]
    assert subject == f"[shopsync] run failed: __ASSET_JOB [{PARTITION}]"
    assert "RuntimeError: &lt;b&gt;boom&lt;/b&gt; with token [redacted]" in html
    assert "second line" in text
    assert TOKEN not in html + text
    link = f"http://localhost:3000/runs/{result.run_id}"
    assert f'<a href="{link}">{link}</a>' in html
    assert f"Run in the UI: {link}" in text
    assert "Retailer: epic-gardening" in text and f"Partition: {PARTITION}" in text
    assert "Error: step exploding_orders: RuntimeError: <b>boom</b> with token [redacted]" in text
    # Still queued (outbox only), so its body says the failure repeated.
    assert text.startswith("Repeated 1 time since this alert was queued, last at ")
    assert '<p data-shopsync="repeats"' in html


def test_failed_range_run_names_the_retailers_and_hours_it_covers(outbox, resources, instance):
    instance.add_dynamic_partitions(retailers_partitions_name("orders"), ["nationwide-plants"])
    start = partition_key("epic-gardening", datetime(2026, 11, 25, 4, tzinfo=UTC))
    end = partition_key("nationwide-plants", datetime(2026, 11, 25, 6, tzinfo=UTC))
    job = dg.Definitions(assets=[exploding_orders]).resolve_implicit_global_asset_job_def()
    tags = {
        "dagster/asset_partition_range_start": str(start),
        "dagster/asset_partition_range_end": str(end),
        "shopsync/flow": "orders",
    }
    result = job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
    assert not result.success
    evaluate_failure_sensor(run_failure_alert_sensor, instance, result, resources)
    [(_, recipients, subject, html, text)] = _rows(outbox, "run_failure")
    assert recipients == [OPS]  # many retailers: the operators
    assert subject == f"[shopsync] run failed: __ASSET_JOB [{start} … {end}]"
    assert "Flow: orders" in text
    assert "Retailer: epic-gardening, nationwide-plants" in text
    assert (
        "Covers: 6 partitions: retailers epic-gardening, nationwide-plants,"
        " hours 2026-11-25-04:00 … 2026-11-25-06:00"
    ) in text
    assert f"/runs/{result.run_id}" in html


def test_failed_blocking_check_is_emailed_once_and_only_by_the_check_sensor(
    outbox, resources, instance
):
    result = _run(instance, checked_orders, [hub_orders_are_unique, advisory_check])
    assert not result.success  # a failed blocking check fails the run
    evaluations = result.get_asset_check_evaluations()
    assert {(e.check_name, e.passed) for e in evaluations} == {
        ("hub_orders_are_unique", False),
        ("advisory_check", False),
    }
    for _ in range(2):
        evaluate_failure_sensor(failed_blocking_check_sensor, instance, result, resources)
        evaluate_failure_sensor(run_failure_alert_sensor, instance, result, resources)
    [(key, recipients, subject, html, text)] = _rows(outbox, "check_failure")
    # one email per check and retailer of the run (the subject names the partition)
    assert key == f"check:{result.run_id}:checked_orders:hub_orders_are_unique:epic-gardening"
    # Critical: never held for quiet hours, whatever the hour this test runs at.
    assert _policy(outbox, "check_failure") == [
        ("check:checked_orders:hub_orders_are_unique:epic-gardening", True, 0, True)
    ]
    assert recipients == [OPS, EPIC]
    assert subject == (
        "[shopsync] CRITICAL: blocking check failed: hub_orders_are_unique on checked_orders"
        f" [{PARTITION}]"
    )
    assert "<td>duplicate_ids</td><td>&lt;i&gt;gid://shopify/Order/1&lt;/i&gt;</td>" in html
    assert "<td>count</td><td>2</td>" in html
    assert "Retailer: epic-gardening" in text and f"Partition: {PARTITION}" in text
    assert f"Run in the UI: http://localhost:3000/runs/{result.run_id}" in text
    # The non-blocking check is not alerted, and the run failure is not a second email.
    assert _rows(outbox, "run_failure") == []


def test_a_run_failing_for_another_reason_is_not_a_check_alert(outbox, resources, instance):
    result = _run(instance, exploding_orders)
    evaluate_failure_sensor(failed_blocking_check_sensor, instance, result, resources)
    assert _rows(outbox, "check_failure") == []
