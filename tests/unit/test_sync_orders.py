"""Order import rules (sync/orders*, sync/windows), named after the FAULTS.md scenarios."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from flow_fixtures import (
    HUB_LOCATION,
    NOW,
    OTHER_LOCATION,
    fo_line,
    fulfillment_order,
    hub_order,
    hub_variant,
    line_item,
    retailer_order,
)

from sync.models import RetailerOrder
from sync.order_changes import ChangeKind, detect_post_import_changes, return_opened
from sync.order_keys import (
    find_existing_hub_order,
    hub_orders_by_source,
    parse_source_key,
    source_key,
    source_of,
)
from sync.order_payload import build_hub_order_input, order_create_variables
from sync.orders import PAID_STATUSES, Reason, Status, classify_order
from sync.windows import dedupe_by_id, lookback_window, window_query

VARIANTS = {"FERN-1": [hub_variant(1, "FERN-1")], "MOSS-2": [hub_variant(2, "MOSS-2")]}
BILLING = {"company": "Epic Gardening", "address1": "2500 Seed Ln", "city": "San Diego",
           "provinceCode": "CA", "countryCode": "US", "zip": "92101"}  # fmt: skip


def classify(node: dict, variants: dict = VARIANTS, **kw):
    return classify_order(
        RetailerOrder.from_graphql(node),
        hub_location_id=HUB_LOCATION,
        hub_variants_by_sku=variants,
        now=NOW,
        retailer="epic-gardening",
        **kw,
    )


def test_paid_order_is_eligible_with_remaining_quantities_at_hub_location_only():
    fern, moss, rose = line_item(1, "FERN-1", 3), line_item(2, "MOSS-2", 1), line_item(3, "ROSE", 1)
    node = retailer_order(
        lines=[fern, moss, rose],
        fulfillment_orders=[
            # one FERN already shipped at the retailer: 2 remain; MOSS split over two hub FOs
            fulfillment_order(10, [fo_line(11, fern, 2), fo_line(12, moss, 0, total=1)]),
            fulfillment_order(20, [fo_line(21, moss, 1)], status="IN_PROGRESS"),
            fulfillment_order(30, [fo_line(31, rose, 1)], location=OTHER_LOCATION),
        ],
    )
    result = classify(node)
    assert result.status is Status.ELIGIBLE and result.eligible
    assert {(line.sku, line.quantity) for line in result.lines} == {("FERN-1", 2), ("MOSS-2", 1)}
    moss_line = next(line for line in result.lines if line.sku == "MOSS-2")
    assert moss_line.variant is not None and moss_line.variant.id.endswith("/2")


@pytest.mark.parametrize("financial", ["PENDING", "AUTHORIZED", "PARTIALLY_PAID", None])
def test_o10_unpaid_order_waits(financial):
    result = classify(retailer_order(financial=financial))
    assert (result.status, result.reason) == (Status.WAITING, Reason.UNPAID)
    assert "#1001" in result.message and "gid://shopify/Order/1001" in result.message


def test_o10_authorized_is_eligible_when_the_retailer_captures_on_fulfillment():
    result = classify(
        retailer_order(financial="AUTHORIZED"), paid_statuses=PAID_STATUSES | {"AUTHORIZED"}
    )
    assert result.status is Status.ELIGIBLE


def test_o10_on_hold_fulfillment_order_waits():
    fern = line_item(1, "FERN-1", 1)
    node = retailer_order(
        lines=[fern],
        fulfillment_orders=[fulfillment_order(10, [fo_line(11, fern, 1)], status="ON_HOLD")],
    )
    result = classify(node)
    assert (result.status, result.reason) == (Status.WAITING, Reason.ON_HOLD)


def test_o10_young_order_waits_for_the_hold_window_then_is_eligible():
    node = retailer_order(created=NOW - timedelta(seconds=30))
    result = classify(node)
    assert (result.status, result.reason) == (Status.WAITING, Reason.HOLD_WINDOW)
    assert result.retry_after == NOW + timedelta(seconds=90)
    later = classify_order(
        RetailerOrder.from_graphql(node), hub_location_id=HUB_LOCATION,
        hub_variants_by_sku=VARIANTS, now=result.retry_after,
    )  # fmt: skip
    assert later.status is Status.ELIGIBLE


def test_o7_unmapped_sku_quarantines_whole_order_listing_every_bad_sku():
    lines = [line_item(1, "FERN-1", 1), line_item(2, "NOPE-1", 1), line_item(3, "NOPE-2", 4)]
    result = classify(retailer_order(lines=lines))
    assert (result.status, result.reason) == (Status.QUARANTINED, Reason.SKU_UNKNOWN)
    assert result.lines == ()  # never a partial hub order
    assert result.problem_skus == ("NOPE-1", "NOPE-2")
    assert "'NOPE-1', 'NOPE-2'" in result.message and "hub catalogue" in result.message
    assert "retailer 'epic-gardening' order #1001 (gid://shopify/Order/1001)" in result.message


def test_o7_line_without_sku_quarantines_the_order():
    result = classify(retailer_order(lines=[line_item(1, "FERN-1", 1), line_item(2, None, 1)]))
    assert result.reason is Reason.SKU_UNKNOWN and "no SKU" in result.problem_skus[0]


def test_o7_ambiguous_sku_quarantines_the_order():
    variants = VARIANTS | {"MOSS-2": [hub_variant(2, "MOSS-2"), hub_variant(3, "MOSS-2")]}
    result = classify(retailer_order(), variants=variants)
    assert (result.status, result.reason) == (Status.QUARANTINED, Reason.SKU_AMBIGUOUS)
    assert result.problem_skus == ("MOSS-2",)
    assert "gid://shopify/ProductVariant/3" in result.message


def test_o7_after_the_catalogue_fix_the_full_order_is_eligible():
    node = retailer_order(lines=[line_item(1, "FERN-1", 1), line_item(2, "NEW-9", 2)])
    assert classify(node).status is Status.QUARANTINED
    fixed = classify(node, variants=VARIANTS | {"NEW-9": [hub_variant(9, "NEW-9")]})
    assert fixed.eligible and sum(line.quantity for line in fixed.lines) == 3


@pytest.mark.parametrize(
    ("node", "reason"),
    [
        (retailer_order(cancelled=NOW - timedelta(minutes=5)), Reason.CANCELLED),
        (retailer_order(shipping=None), Reason.NO_SHIPPING_ADDRESS),
        (retailer_order(shipping={"address1": None, "city": "X", "countryCodeV2": "US"}),
         Reason.NO_SHIPPING_ADDRESS),
        (retailer_order(financial="VOIDED"), Reason.PAYMENT_VOID),
        (retailer_order(fulfillment_orders=[]), Reason.NO_FULFILLMENT_ORDERS),
    ],
)  # fmt: skip
def test_quarantine_reasons(node, reason):
    result = classify(node)
    assert (result.status, result.reason) == (Status.QUARANTINED, reason)


def test_nothing_left_to_ship_at_the_hub_location_is_quarantined():
    fern = line_item(1, "FERN-1", 1)
    closed = fulfillment_order(10, [fo_line(11, fern, 0)], status="CLOSED")
    result = classify(retailer_order(lines=[fern], fulfillment_orders=[closed]))
    assert (result.status, result.reason) == (Status.QUARANTINED, Reason.NOTHING_TO_SHIP)


def test_order_with_no_fulfillment_order_at_the_hub_location_is_not_the_hubs():
    fern = line_item(1, "FERN-1", 1)
    elsewhere = fulfillment_order(10, [fo_line(11, fern, 1)], location=OTHER_LOCATION)
    result = classify(retailer_order(lines=[fern], fulfillment_orders=[elsewhere]))
    assert (result.status, result.reason) == (Status.IGNORED, Reason.NOT_FOR_HUB)


def test_young_order_without_fulfillment_orders_waits_for_routing():
    result = classify(retailer_order(fulfillment_orders=[], created=NOW - timedelta(seconds=10)))
    assert (result.status, result.reason) == (Status.WAITING, Reason.HOLD_WINDOW)


def test_hub_order_input_carries_prices_addresses_and_the_source_key_three_ways():
    variants = {"FERN-1": [hub_variant(1, "FERN-1", price="10.00", retailer_cost="6.50")],
                "MOSS-2": [hub_variant(2, "MOSS-2", price="4.00", retailer_cost=None)]}  # fmt: skip
    order = RetailerOrder.from_graphql(retailer_order(test=True))
    result = classify_order(
        order, hub_location_id=HUB_LOCATION, hub_variants_by_sku=variants, now=NOW
    )
    payload = build_hub_order_input(
        order, result, retailer_key="epic-gardening", retailer_name="Epic Gardening",
        billing_address=BILLING,
    )  # fmt: skip
    key = "src:epic-gardening:1001"
    assert payload["sourceIdentifier"] == key and key in payload["tags"]
    assert {"key": "shopsync_source", "value": key} in payload["customAttributes"]
    assert {"key": "ship_date", "value": "2025-01-20"} in payload["customAttributes"]
    assert "shopsync-retailer:epic-gardening" in payload["tags"]
    assert payload["lineItems"] == [
        {"variantId": "gid://shopify/ProductVariant/1", "quantity": 2, "requiresShipping": True,
         "priceSet": {"shopMoney": {"amount": "6.50", "currencyCode": "USD"}}},
        {"variantId": "gid://shopify/ProductVariant/2", "quantity": 1, "requiresShipping": True,
         "priceSet": {"shopMoney": {"amount": "4.00", "currencyCode": "USD"}}},
    ]  # fmt: skip
    assert payload["billingAddress"] == BILLING
    assert payload["shippingAddress"]["countryCode"] == "US"
    assert payload["shippingAddress"]["address1"] == "12 Garden Row"
    assert "email" not in payload and payload["test"] is True
    assert "Leave at the back door" in payload["note"] and payload["poNumber"] == "#1001"
    options = order_create_variables(payload)["options"]
    assert options == {"inventoryBehaviour": "DECREMENT_IGNORING_POLICY", "sendReceipt": False,
                       "sendFulfillmentReceipt": False}  # fmt: skip


def test_money_metafield_retailer_cost_keeps_its_currency():
    money = '{"amount": "7.25", "currency_code": "CAD"}'
    variants = {"FERN-1": [hub_variant(1, "FERN-1", retailer_cost=money)],
                "MOSS-2": [hub_variant(2, "MOSS-2")]}  # fmt: skip
    order = RetailerOrder.from_graphql(retailer_order())
    result = classify_order(
        order, hub_location_id=HUB_LOCATION, hub_variants_by_sku=variants, now=NOW
    )
    assert result.lines[0].variant.retailer_cost == Decimal("7.25")
    payload = build_hub_order_input(
        order, result, retailer_key="r", retailer_name="R", billing_address={}
    )
    assert payload["lineItems"][0]["priceSet"]["shopMoney"] == {
        "amount": "7.25",
        "currencyCode": "CAD",
    }


def test_hub_order_input_refuses_an_order_that_is_not_eligible():
    order = RetailerOrder.from_graphql(retailer_order(financial="PENDING"))
    result = classify_order(
        order, hub_location_id=HUB_LOCATION, hub_variants_by_sku=VARIANTS, now=NOW
    )
    with pytest.raises(ValueError, match="unpaid"):
        build_hub_order_input(
            order, result, retailer_key="r", retailer_name="R", billing_address={}
        )


def test_source_key_is_deterministic_and_parses_back():
    assert source_key("epic-gardening", "gid://shopify/Order/1001") == "src:epic-gardening:1001"
    ref = parse_source_key("src:epic-gardening:1001")
    assert (ref.retailer_key, ref.order_gid) == ("epic-gardening", "gid://shopify/Order/1001")
    odd = source_key("r", "gid://shopify/Order/abc")
    assert parse_source_key(odd).order_gid == "gid://shopify/Order/abc"
    assert parse_source_key("retailer-order:#1001") is None


@pytest.mark.parametrize(
    "carrier",
    [
        {"tags": ["src:epic-gardening:1001"], "source_identifier": "", "attributes": {}},
        {"source_identifier": "src:epic-gardening:1001", "attributes": {}},
        {"source_identifier": "", "attributes": {"shopsync_source": "src:epic-gardening:1001"}},
    ],
)
def test_o1_existing_hub_order_is_found_by_any_one_of_the_three_carriers(carrier):
    recent = [hub_order(7, source="src:epic-gardening:999"), hub_order(8, **carrier)]
    assert find_existing_hub_order("src:epic-gardening:1001", recent) == "gid://shopify/Order/8"
    assert find_existing_hub_order("src:epic-gardening:1002", recent) is None


def test_o2_duplicates_are_reported_and_the_oldest_is_the_one_kept():
    key = "src:epic-gardening:1001"
    recent = [
        hub_order(9, source=key, created=NOW),
        hub_order(8, source=key, created=NOW - timedelta(seconds=5)),
    ]
    assert find_existing_hub_order(key, recent) == "gid://shopify/Order/8"
    assert hub_orders_by_source(recent)[key] == ["gid://shopify/Order/8", "gid://shopify/Order/9"]


def test_o8_cancel_after_import_is_detected():
    imported = RetailerOrder.from_graphql(retailer_order())
    now = RetailerOrder.from_graphql(retailer_order(cancelled=NOW))
    changes = detect_post_import_changes(now, imported, hub_location_id=HUB_LOCATION)
    assert [c.kind for c in changes] == [ChangeKind.CANCELLED]


def test_o9_edit_after_import_line_removed_and_quantity_changed():
    imported = RetailerOrder.from_graphql(retailer_order())
    edited = RetailerOrder.from_graphql(
        retailer_order(
            lines=[line_item(1, "FERN-1", 2, current=1), line_item(2, "MOSS-2", 1, current=0)]
        )
    )
    changes = {
        c.sku: c for c in detect_post_import_changes(edited, imported, hub_location_id=HUB_LOCATION)
    }
    assert changes["FERN-1"].kind is ChangeKind.QUANTITY_CHANGED
    assert (changes["FERN-1"].before, changes["FERN-1"].after) == (2, 1)
    assert changes["MOSS-2"].kind is ChangeKind.LINE_REMOVED


def test_shipping_is_not_an_edit():
    """After our push the remaining quantities drop; currentQuantity does not."""
    imported = RetailerOrder.from_graphql(retailer_order())
    fern, moss = line_item(1, "FERN-1", 2), line_item(2, "MOSS-2", 1)
    shipped = retailer_order(
        lines=[fern, moss],
        fulfillment_orders=[
            fulfillment_order(10010, [fo_line(1, fern, 0), fo_line(2, moss, 0)], status="CLOSED")
        ],
    )
    assert detect_post_import_changes(RetailerOrder.from_graphql(shipped), imported) == []


def test_o5_window_query_quotes_utc_dates_and_lookback_overlaps():
    start = datetime(2025, 1, 15, 10, tzinfo=UTC)
    assert window_query(start, start + timedelta(hours=1)) == (
        "updated_at:>='2025-01-15T10:00:00Z' updated_at:<'2025-01-15T11:00:00Z'"
    )
    ws, we = lookback_window(start, start + timedelta(hours=1), 6)
    assert (ws, we) == (start - timedelta(hours=6), start + timedelta(hours=1))
    odd = window_query(
        start + timedelta(microseconds=5), start + timedelta(seconds=1, microseconds=1)
    )
    assert odd == "updated_at:>='2025-01-15T10:00:00Z' updated_at:<'2025-01-15T10:00:02Z'"
    with pytest.raises(ValueError, match="time zone"):
        window_query(datetime(2025, 1, 1), datetime(2025, 1, 2))
    with pytest.raises(ValueError, match="empty window"):
        window_query(start, start)


def test_o4_o5_same_order_seen_twice_is_kept_once_at_its_latest_version():
    old = retailer_order(created=NOW - timedelta(hours=2))
    new = retailer_order(created=NOW - timedelta(hours=1))
    other = retailer_order(1002)
    assert dedupe_by_id([old, other, new, old]) == [new, other]


def test_hub_order_source_names_the_retailer_order():
    ref = source_of(hub_order(8, source="src:epic-gardening:1001"))
    assert (ref.retailer_key, ref.order_gid) == ("epic-gardening", "gid://shopify/Order/1001")
    assert source_of(hub_order(9)) is None
    conflicting = hub_order(10, source="src:a:1", source_identifier="src:b:2")
    assert source_of(conflicting) is None


def test_a_return_opened_after_import_is_said_once_and_not_guessed():
    """Refunds and returns are recorded, never followed at the hub: a return is not one of
    the changes the follow-ups mirror, and a read without the status says nothing."""
    imported = RetailerOrder.from_graphql({**retailer_order(), "returnStatus": "NO_RETURN"})
    returned = RetailerOrder.from_graphql({**retailer_order(), "returnStatus": "IN_PROGRESS"})
    message = return_opened(returned, imported)
    assert message is not None and "a return was opened after import (in progress)" in message
    assert returned.id in message and "nothing is pushed" in message
    assert detect_post_import_changes(returned, imported, hub_location_id=HUB_LOCATION) == []
    assert return_opened(returned, returned) is None  # there at import: not new
    assert return_opened(imported, imported) is None
    unknown = RetailerOrder.from_graphql(retailer_order())
    assert return_opened(unknown, imported) is None
