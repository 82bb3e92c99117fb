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
