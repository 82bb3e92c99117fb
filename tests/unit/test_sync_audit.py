"""The independent audit counts duplicates and gaps from store state alone."""

from sync.audit import audit_stores


def _hub_order(gid, source, fulfillments=()):
    return {"id": gid, "tags": ["shopsync", source], "source_identifier": source,
            "custom_attributes": [], "fulfillments": list(fulfillments)}  # fmt: skip


def _ff(gid, numbers, status="SUCCESS"):
    return {"id": gid, "status": status, "tracking": [{"number": n} for n in numbers]}


def test_clean_stores_have_no_duplicates_or_gaps():
    hub = {"orders": [_hub_order("gid://shopify/Order/1", "src:r:10", [_ff("h1", ["T1"])])]}
    retailer = {"orders": [{"id": "gid://shopify/Order/10", "fulfillments": [_ff("r1", ["T1"])]}]}
    audit = audit_stores(hub, {"r": retailer})
    assert (audit.hub_orders, audit.duplicate_hub_orders) == (1, 0)
    assert (audit.duplicate_retailer_fulfillments, audit.missing_retailer_fulfillments) == (0, 0)


def test_duplicates_and_missing_are_counted():
    hub = {
        "orders": [
            _hub_order("gid://shopify/Order/1", "src:r:10", [_ff("h1", ["T1"]), _ff("h2", ["T2"])]),
            _hub_order("gid://shopify/Order/2", "src:r:10"),  # a second hub order, same source
        ]
    }
    retailer_order = {
        "id": "gid://shopify/Order/10",
        "fulfillments": [_ff("r1", ["T1"]), _ff("r2", ["T1"]), _ff("r3", ["T9"], "CANCELLED")],
    }
    audit = audit_stores(hub, {"r": {"orders": [retailer_order]}})
    assert audit.duplicate_hub_orders == 1
    assert audit.duplicate_sources == ["src:r:10"]
    assert audit.duplicate_retailer_fulfillments == 1  # T1 twice
    assert audit.missing_retailer_fulfillments == 1  # T2 never pushed


def _retailer_order(cancelled_at=None, waiting=0, location="L1"):
    fo = {"status": "OPEN" if waiting else "CLOSED", "location_id": location,
          "line_items": [{"remaining_quantity": waiting}]}  # fmt: skip
    return {"id": "gid://shopify/Order/10", "cancelled_at": cancelled_at, "fulfillments": [],
            "fulfillment_orders": [fo]}  # fmt: skip


def test_a_hub_cancel_left_waiting_at_a_carry_back_retailer_is_counted():
    """O15: a hub order the hub cancelled itself, its retailer order still waiting at the
    hub location, counts against a retailer that carries hub cancels back; a reporting
    retailer's is only counted as cancelled by the hub; our answer to a retailer cancel
    (the retailer cancelled first) is neither."""
    hub_order = {**_hub_order("gid://shopify/Order/1", "src:r:10"),
                 "cancelled_at": "2026-12-01T10:00:00+00:00"}  # fmt: skip
    hub = {"orders": [hub_order]}
    left = {"r": {"orders": [_retailer_order(waiting=2)]}}
    assert audit_stores(hub, left, {"r": "L1"}).hub_cancelled_waiting_at_retailer == 1
    reported = audit_stores(hub, left)
    assert (reported.cancelled_by_the_hub, reported.hub_cancelled_waiting_at_retailer) == (1, 0)
    carried = {"r": {"orders": [_retailer_order("2026-12-01T10:05:00+00:00")]}}
    audit = audit_stores(hub, carried, {"r": "L1"})
    assert (audit.cancelled_by_the_hub, audit.hub_cancelled_waiting_at_retailer) == (1, 0)
    ours = {"r": {"orders": [_retailer_order("2026-12-01T09:55:00+00:00")]}}
    assert audit_stores(hub, ours, {"r": "L1"}).cancelled_by_the_hub == 0
    elsewhere = {"r": {"orders": [_retailer_order(waiting=1, location="L2")]}}
    assert audit_stores(hub, elsewhere, {"r": "L1"}).hub_cancelled_waiting_at_retailer == 0


def test_a_hub_order_given_up_with_units_left_counts_like_a_hub_cancel():
    """O15 without a cancel: the hub's fulfillment orders closed INCOMPLETE with units left
    and none open; while any of its units can still ship, it is not given up."""

    def hub_with(*fos):
        fos = [{"status": s, "line_items": [{"remaining_quantity": n}]} for s, n in fos]
        return {"orders": [{**_hub_order("gid://shopify/Order/1", "src:r:10"),
                            "fulfillment_orders": fos}]}  # fmt: skip

    waiting = {"r": {"orders": [_retailer_order(waiting=1)]}}
    gave_up = audit_stores(hub_with(("CLOSED", 0), ("INCOMPLETE", 1)), waiting, {"r": "L1"})
    assert (gave_up.given_up_by_the_hub, gave_up.hub_cancelled_waiting_at_retailer) == (1, 1)
    assert gave_up.cancelled_by_the_hub == 0
    carried = {"r": {"orders": [_retailer_order()]}}
    done = audit_stores(hub_with(("INCOMPLETE", 1)), carried, {"r": "L1"})
    assert (done.given_up_by_the_hub, done.hub_cancelled_waiting_at_retailer) == (1, 0)
    may_ship = audit_stores(hub_with(("INCOMPLETE", 1), ("OPEN", 1)), waiting, {"r": "L1"})
    assert (may_ship.given_up_by_the_hub, may_ship.hub_cancelled_waiting_at_retailer) == (0, 0)
    shipped = audit_stores(hub_with(("CLOSED", 0)), waiting, {"r": "L1"})
    assert shipped.given_up_by_the_hub == 0
