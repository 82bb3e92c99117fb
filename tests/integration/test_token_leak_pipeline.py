"""No store token reaches logs, errors, emails, the database or Dagster metadata.

A whole pipeline run with recognisable tokens: one retailer succeeds, another has
a wrong token (401) so its run fails and the failure alert is queued. Then every
place a token could end up is searched for both values.
"""

from __future__ import annotations

import json
import logging
import time

import dagster as dg
import psycopg
import pytest

from pipelines.alerts import run_failure_alert_sensor
from pipelines.resources import build_resources
from tests.fixtures.flows import demo_scenario, evaluate_failure_sensor

pytestmark = pytest.mark.integration

GOOD = "shpat_LEAKCANARY_good_0123456789abcdef"
WRONG = "shpat_LEAKCANARY_wrong_fedcba9876543210"


def _scenario() -> dict:
    scenario = demo_scenario()
    for store in scenario["stores"]:
        if store["domain"] == "epic-gardening.myshopify.com":
            store["token"] = GOOD
    return scenario


def _dump_database(url: str) -> str:
    """Every row of every table in our schemas, as text."""
    chunks = []
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema IN ('shopsync', 'shopsync_meta')"
        ).fetchall()
        for schema, table in tables:
            rows = conn.execute(f'SELECT t::text FROM "{schema}"."{table}" t').fetchall()
            chunks += [r[0] for r in rows]
    assert chunks, "the database dump is empty: the search would prove nothing"
    return "\n".join(chunks)


def _dump_dagster(instance: dg.DagsterInstance) -> str:
    chunks = []
    for run in instance.get_runs():
        chunks.append(json.dumps(dict(run.tags)))
        for entry in instance.all_logs(run.run_id):
            chunks.append(entry.user_message or "")
            if entry.dagster_event is not None:
                chunks.append(repr(entry.dagster_event.event_specific_data))
    return "\n".join(chunks)


def test_tokens_never_leak_anywhere(flow_harness_factory, monkeypatch, caplog, capfd):
    flow = flow_harness_factory(_scenario())
    monkeypatch.setenv("SHOPSYNC_TOKEN_EPIC_GARDENING", GOOD)
    monkeypatch.setenv("SHOPSYNC_TOKEN_NATIONWIDE_PLANTS", WRONG)  # the simulator says 401
    flow.sim.run_shopper(domains=["epic-gardening.myshopify.com"], count=4, seed=11)
    time.sleep(0.5)
    caplog.set_level(logging.DEBUG)
    now = flow.windows()[0][0]
    with dg.instance_for_test() as instance:
        ok = flow.run_job("orders_job", "epic-gardening", now, instance=instance)
        failed = flow.run_job("orders_job", "nationwide-plants", now, instance=instance)
        stock_ok = flow.run_job("inventory_job", "epic-gardening", now, instance=instance)
        stock_failed = flow.run_job("inventory_job", "nationwide-plants", now, instance=instance)
        assert ok.success, "the succeeding run must succeed, or the test proves less"
        assert stock_ok.success and not stock_failed.success
        assert not failed.success
        evaluate_failure_sensor(run_failure_alert_sensor, instance, failed, build_resources())
        dagster_text = _dump_dagster(instance)

    database_text = _dump_database(flow.db_url)
    assert "run_failure" in database_text, "the failure email was not queued"
    assert "401" in dagster_text or "token" in dagster_text.lower()  # the failure is explained
    captured = capfd.readouterr()
    places = {
        "logs": "\n".join(r.getMessage() for r in caplog.records),
        "stdout/stderr": captured.out + captured.err,
        "dagster events and metadata": dagster_text,
        "database (incl. email outbox)": database_text,
    }
    for place, text in places.items():
        for token in (GOOD, WRONG):
            assert token not in text, f"a token leaked into {place}"
