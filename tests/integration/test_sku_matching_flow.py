"""SKU matching policy against real Postgres and the simulator (FAULTS O11).

The retailer sells the hub's SKUs with a trailing space ('SKU '), a leading space (' SKU') and
in lower case ('sku'). By default each such order is quarantined with a message saying exactly
what differs; once the retailer's registry entry opts into normalisation the same orders are
imported as the hub's SKUs, the normalisations are listed in the orders flow's data-quality
check, the landed lines keep the retailer's SKU verbatim, and the hub's shipment is pushed
back onto the retailer's lines.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import yaml
from flow_builders import HubShop, Line, RetailerShop, add_variant, job_metadata

from resources.registry import DEFAULT_REGISTRY_PATH, load_registry
from tests.fixtures.flows import check_evaluations
from tests.integration.fault_worker import start_worker
from tests.integration.test_exactly_once_faults import domain, executed, finished, settle

pytestmark = pytest.mark.integration

KEY = "nationwide-plants"


def _landed(flow, order) -> tuple[str, str, str | None]:
    row = flow.connect().execute(
        "SELECT status, reason, message FROM shopsync.retailer_orders"
        " WHERE retailer = %s AND order_gid = %s",
        (KEY, order.id),
    )
    return row.fetchone()


def _landed_skus(flow, order) -> list[tuple[str, str]]:
    """(sku column, raw JSON's sku) of the order's landed lines."""
    rows = flow.connect().execute(
        "SELECT sku, raw->>'sku' FROM shopsync.retailer_order_lines"
        " WHERE retailer = %s AND order_gid = %s ORDER BY line_gid",
        (KEY, order.id),
    )
    return rows.fetchall()


def _hub_skus(hub_order) -> dict[str, int]:
    return {li.sku: li.quantity for li in hub_order.line_items_list}


def _near_miss_orders(flow):
    """The retailer sells three hub SKUs as 'A ', ' B' and 'c', one order each."""
    shop = RetailerShop(flow, KEY)
    a, b, c = shop.skus(3)
    assert c.lower() != c  # the hub's SKU has letters whose case can differ
    variants = {"trailing": (f"{a} ", a), "leading": (f" {b}", b), "case": (c.lower(), c)}
    orders = {}
    for name, (retailer_sku, _) in variants.items():
        add_variant(shop.store, retailer_sku, title=f"{name} variant")
        orders[name] = shop.order(Line(retailer_sku, 2))
    return shop, variants, orders


def _opt_in(flow, monkeypatch, tmp_path, **sku_matching) -> None:
    """Opt the retailer into normalisation, in the registry file every run reads."""
    raw = yaml.safe_load(DEFAULT_REGISTRY_PATH.read_text())
    entry = next(r for r in raw["retailers"] if r["key"] == KEY)
    entry["sku_matching"] = sku_matching
    path = tmp_path / "retailers.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("SHOPSYNC_REGISTRY", str(path))
    flow.registry = load_registry(path)


def test_o11_near_miss_skus_are_quarantined_with_the_exact_difference_by_default(flow):
    """O11, default (exact) policy: each of 'A ', ' B', 'c' holds its order, with a message
    naming the retailer, the order, exactly what differs and the fix; nothing reaches the
    hub; the landed line keeps the retailer's SKU verbatim (column and raw JSON)."""
    shop, variants, orders = _near_miss_orders(flow)
    a, b, c = (hub_sku for _, hub_sku in variants.values())

    landing, created = flow.import_orders(KEY)
    assert landing.by_reason == {"sku_near_miss": 3}
    assert (created.created, flow.audit().hub_orders) == (0, 0)
    expected = {
        "trailing": f"'{a} ' has a trailing space; the hub sells '{a}'",
        "leading": f"' {b}' has a leading space; the hub sells '{b}'",
        "case": f"'{c.lower()}' differs in letter case from the hub's '{c}'",
    }
    fixes = {"trailing": "trim_whitespace: true", "leading": "trim_whitespace: true",
             "case": "ignore_case: true"}  # fmt: skip
    for name, order in orders.items():
        status, reason, message = _landed(flow, order)
        assert (status, reason) == ("quarantined", "sku_near_miss"), name
        assert message.startswith(f"retailer '{KEY}' order {order.name} ({order.id}): ")
        assert f"SKU {expected[name]}: correct the SKU at the retailer" in message, message
        assert f"opt retailer '{KEY}' into sku_matching: {{" in message
        assert fixes[name] in message
        retailer_sku = variants[name][0]
        assert _landed_skus(flow, order) == [(retailer_sku, retailer_sku)]
    # the alert digest carries the same exact message
    assert sorted(i.reason for i in landing.quarantined) == ["sku_near_miss"] * 3
    assert {i.order_name: i.fix for i in landing.quarantined}[orders["case"].name].count(
        expected["case"]
    ) == 1


def test_o11_opted_in_retailer_imports_reports_normalisations_and_keeps_skus_verbatim(
    flow, monkeypatch, tmp_path
):
    """O11, opted in (trim_whitespace + ignore_case): the orders quarantined under the
    default policy are imported by `orders_job` as the hub's SKUs and variants; the orders
    data-quality check lists the count and every (retailer SKU → hub SKU) pair; the landed
    lines keep 'A ', ' B', 'c'; a SKU that normalises onto two hub SKUs ('abc' and 'ABC')
    stays quarantined naming both; the hub's shipment is pushed onto the retailer's line."""
    shop, variants, orders = _near_miss_orders(flow)
    hub = HubShop(flow)
    d = shop.skus(1, skip=3)[0]
    hub.add_variant(d.lower())  # the hub now sells both d and d.lower()
    mixed = d[0] + d[1:].lower()
    add_variant(shop.store, mixed, title="mixed-case variant")
    ambiguous = shop.order(Line(mixed, 1))
    landing, _ = flow.import_orders(KEY)
    assert landing.by_reason == {"sku_near_miss": 4}

    _opt_in(flow, monkeypatch, tmp_path, trim_whitespace=True, ignore_case=True)
    result = flow.run_job("orders_job", KEY, datetime.now(UTC))
    assert result.success

    for name, order in orders.items():
        retailer_sku, hub_sku = variants[name]
        assert _landed(flow, order)[:2] == ("eligible", "eligible"), name
        assert _hub_skus(hub.order_for(shop, order)) == {hub_sku: 2}
        made = hub.order_for(shop, order).line_items_list[0]
        assert made.variant is not None and made.variant.sku == hub_sku
        assert _landed_skus(flow, order) == [(retailer_sku, retailer_sku)]
    status, reason, message = _landed(flow, ambiguous)
    assert (status, reason) == ("quarantined", "sku_ambiguous")
    assert f"'{mixed}' matches several hub SKUs once normalised" in message
    assert f"'{d}'" in message and f"'{d.lower()}'" in message
    assert hub.orders_for(shop, ambiguous) == []

    quality = check_evaluations(result)["hub_order_quantities_match_hub_location"]
    assert quality.passed
    assert quality.metadata["sku_normalised_matches"].value == 3
    assert sorted(quality.metadata["sku_normalisations"].value) == sorted(
        f"{r!r} → {h!r}" for r, h in variants.values()
    )
    assert job_metadata(result, "retailer_orders")["sku_normalised_matches"] == 3

    hub_order = hub.order_for(shop, orders["trailing"])
    hub.ship(hub_order, {variants["trailing"][1]: 2})
    landed, pushed = flow.push_fulfillments(KEY)
    assert (landed, pushed.pushed, pushed.terminal) == (1, 1, [])
    retailer_side = shop.state_of(orders["trailing"])
    assert retailer_side["fulfillments"], "the hub's shipment reached the retailer order"


@pytest.mark.parametrize("opted_in", [False, True])
def test_o11_o14_a_line_added_with_a_near_miss_sku_is_mirrored_only_when_opted_in(
    flow, monkeypatch, tmp_path, opted_in
):
    """A line added at the retailer after import with 'B ' (the hub sells 'B'): opted into
    trimming, the hub order gets B; by default it is held, saying exactly what differs."""
    from tests.integration.test_order_follow_ups import follow_up, hub_state, imported, states

    if opted_in:
        _opt_in(flow, monkeypatch, tmp_path, trim_whitespace=True)
    shop = RetailerShop(flow, KEY)
    a, b = shop.skus(2)
    add_variant(shop.store, f"{b} ", title="trailing variant")
    shop, order = imported(flow, KEY, Line(a, 1))
    flow.sim.shopper_edit(domain=shop.store.domain, order_id=order.id, action="add",
                          sku=f"{b} ", quantity=2)  # fmt: skip
    deadline = time.monotonic() + 20
    while order.id not in states(flow):  # until the retailer's index shows the edit
        assert time.monotonic() < deadline
        follow_up(flow, KEY)
        time.sleep(0.2)
    hub = {x.sku: x.current_quantity for x in hub_state(flow, shop, order).lines
           if x.current_quantity}  # fmt: skip
    if opted_in:
        assert states(flow) == {order.id: "edited"} and hub == {a: 1, b: 2}
        return
    assert states(flow) == {order.id: "held_for_review"} and hub == {a: 1}
    detail = flow.connect().execute("SELECT detail FROM shopsync.order_follow_ups").fetchone()[0]
    assert f"'{b} ' has a trailing space; the hub sells '{b}'" in detail


@pytest.mark.parametrize("fault", ["lost_response", "killed"])
def test_o11_normalised_orders_are_made_once_under_a_lost_response_and_a_kill(
    flow, monkeypatch, tmp_path, fault
):
    """O11 opted in: the orders whose SKUs match only once normalised are made at the hub
    exactly once when `orderCreate` commits and its answer is lost (FAULTS: lost response
    after commit), or when the real `orders_job` is SIGKILLed right after the first hub
    order was made (a process killed between two steps). Judged at the hub: one order each,
    holding the hub's SKUs; the landed lines keep the retailer's verbatim."""
    shop, variants, orders = _near_miss_orders(flow)
    _opt_in(flow, monkeypatch, tmp_path, trim_whitespace=True, ignore_case=True)
    hub = HubShop(flow)
    if fault == "lost_response":
        flow.sim.set_faults(domain(flow, "hub"), lose_response_after_commit=1.0,
                            only_fields=["orderCreate"], max_faults=1)  # fmt: skip
        settle(lambda: flow.import_orders(KEY, reconcile_delay=0.05)[1],
               lambda stats: not stats.pending, max_passes=4)  # fmt: skip
        assert flow.sim.counters(domain(flow, "hub"))["faults"]["lose_response_after_commit"]
    else:
        proc = start_worker("--retailer", KEY, "--mode", "job",
                            "--kill-after", "orders_create_hub:1")  # fmt: skip
        assert finished(proc) < 0
        assert len([o for o in orders.values() if hub.orders_for(shop, o)]) == 1
        assert flow.run_job("orders_job", KEY, datetime.now(UTC)).success
    assert executed(flow, "hub", "orderCreate") == len(orders)
    for name, order in orders.items():
        retailer_sku, hub_sku = variants[name]
        assert len(hub.orders_for(shop, order)) == 1, name
        assert _hub_skus(hub.order_for(shop, order)) == {hub_sku: 2}
        assert _landed_skus(flow, order) == [(retailer_sku, retailer_sku)]
    assert flow.audit().duplicate_hub_orders == 0
