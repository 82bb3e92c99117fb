"""Every call lands in shopsync.api_calls, in batches; no token anywhere (issue 4)."""

from __future__ import annotations

import logging
import uuid

import psycopg
import pytest
from shopify_sim_support import HUB, RETAILER, resource_for, write_registry

from resources.shopify import PostgresCallRecorder, ShopifyError, ShopifyTransientError

pytestmark = pytest.mark.integration

CANARY = "shpat_CANARY_" + uuid.uuid4().hex  # recognisable, unique per run


def _rows(db_url: str, run_id: str) -> list[tuple]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "SELECT store, operation, requested_cost, actual_cost, http_status, throttled,"
            " retries, request_id, error_code, duration_ms FROM shopsync.api_calls"
            " WHERE run_id = %s ORDER BY id",
            (run_id,),
        ).fetchall()


def test_api_calls_rows_are_written_in_batches(simulator, db_url, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SHOPSYNC_TOKEN_RETAILER_A", simulator.store(RETAILER).token)
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    recorder = PostgresCallRecorder.from_url(db_url, batch_size=3)
    simulator.set_faults(RETAILER, http_503=1.0, max_faults=1)
    resource = resource_for(simulator.base_url, write_registry(tmp_path))
    with resource.get_client("retailer-a", run_id=run_id, recorder=recorder) as client:
        for _ in range(4):
            client.execute("shop_info")
        assert len(_rows(db_url, run_id)) == 3  # one batch flushed, one row buffered
        client.execute("locations", {})
    rows = _rows(db_url, run_id)  # close() flushed the rest
    assert [r[1] for r in rows] == ["shop_info"] * 4 + ["locations"]
    first = rows[0]
    assert first[0] == "retailer-a" and first[4] == 200 and first[6] == 1  # one 503, retried
    assert first[2] == first[3] == 2 and first[7]  # requested/actual cost, request id
    assert all(r[9] >= 0 for r in rows) and not any(r[5] for r in rows)


def test_token_never_leaks_to_logs_errors_reprs_or_the_database(
    sim_factory, db_url, tmp_path, monkeypatch, caplog
) -> None:
    scenario = {
        "settings": {"seed": 5},
        "catalog": {
            "products": [{"title": "Fern", "variants": [{"sku": "FERN-1", "price": "5.00"}]}]
        },
        "stores": [
            {"domain": HUB, "role": "hub", "token": CANARY, "token_env": "SHOPSYNC_TOKEN_HUB"},
            {"domain": RETAILER, "token": "shpat_other", "token_env": "SHOPSYNC_TOKEN_RETAILER_A"},
        ],
    }
    sim = sim_factory(scenario)
    monkeypatch.setenv("SHOPSYNC_TOKEN_HUB", CANARY)
    run_id = f"leak-{uuid.uuid4().hex[:8]}"
    recorder = PostgresCallRecorder.from_url(db_url, batch_size=2)
    resource = resource_for(sim.base_url, write_registry(tmp_path), max_retries=2)
    caught: list[BaseException] = []
    outputs: list[str] = []
    client = resource.get_client("hub", run_id=run_id, recorder=recorder)
    with caplog.at_level(logging.DEBUG), client:  # httpx/httpcore debug logging included
        outputs.append(repr(client.variants_by_sku(["FERN-1"])))  # succeeds
        outputs.append(
            repr(client.mutate("tags_add", {"id": "gid://shopify/Order/0", "tags": ["x"]}))
        )
        sim.set_faults(HUB, http_500=1.0)
        with pytest.raises(ShopifyTransientError) as failed:  # fails after retries
            client.execute("shop_info")
        caught.append(failed.value)
        sim.set_faults(HUB, http_500=0.0, lose_response_after_commit=1.0)
        with pytest.raises(ShopifyError) as ambiguous:
            client.mutate("orders_create_hub", {"order": {"lineItems": []}})
        caught.append(ambiguous.value)
        outputs += [repr(client), repr(vars(client)), repr(vars(client.transport))]
    outputs += [str(e) for e in caught] + [repr(e) for e in caught]
    outputs += [caplog.text] + [repr(r.__dict__) for r in caplog.records]
    with psycopg.connect(db_url) as conn:
        table = conn.execute(
            "SELECT a::text FROM shopsync.api_calls a WHERE run_id = %s", (run_id,)
        )
        db_rows = [r[0] for r in table.fetchall()]
    assert len(db_rows) == 4 and caplog.records
    outputs += db_rows
    leaks = [text[:200] for text in outputs if CANARY in text]
    assert not leaks, f"token found in: {leaks}"
