"""Fulfillment push rules (sync/fulfillments*, sync/follow_ups), named after FAULTS.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flow_fixtures import (
    HUB_LOCATION,
    NOW,
    OTHER_LOCATION,
    fo_line,
    fulfillment,
    fulfillment_order,
    hub_order,
    line_item,
    page,
    retailer_order,
)

from sync.follow_ups import HUB_ORDER_FULFILLMENTS_FIRST, complete_order
from sync.fulfillments import (
    PlanReason,
    PlanStatus,
    find_existing_retailer_fulfillment,
    hub_orders_query,
    plan_retailer_fulfillments,
    tracking_changed,
    tracking_input,
)
from sync.models import Fulfillment, HubFulfillment, HubOrder, RetailerOrder, Tracking

UPS = ("UPS", "1Z999", "https://ups.example/1Z999")
USPS = ("USPS", "9400111", "https://usps.example/9400111")


def track(company, number, url) -> Tracking:
    return Tracking(company=company, number=number, url=url)


def three_line_order(**kw) -> dict:
    """FERN x2, MOSS x1, ROSE x3, all on one OPEN FO at the hub location."""
    lines = [line_item(1, "FERN-1", 2), line_item(2, "MOSS-2", 1), line_item(3, "ROSE-3", 3)]
    fo = fulfillment_order(10, [fo_line(10 + i, li, li["quantity"]) for i, li in enumerate(lines)])
    return retailer_order(lines=lines, fulfillment_orders=kw.pop("fos", [fo]), **kw)


def hub(n: int, lines, tracking=(), **kw) -> HubFulfillment:
    return HubFulfillment.from_graphql(fulfillment(n, lines, tracking=list(tracking), **kw))


def plan(hub_ff: HubFulfillment, order_node: dict, **kw):
    return plan_retailer_fulfillments(
        hub_ff, RetailerOrder.from_graphql(order_node), hub_location_id=HUB_LOCATION, **kw
    )


def test_f2_partial_line_pushes_exactly_the_shipped_units():
    result = plan(hub(500, [("ROSE-3", 2)], [UPS]), three_line_order())
    assert result.status is PlanStatus.CREATE and result.shortfalls == ()
    variables = result.variables()["fulfillment"]
    assert variables["lineItemsByFulfillmentOrder"] == [
        {
            "fulfillmentOrderId": "gid://shopify/FulfillmentOrder/10",
            # always explicit: an omitted list would fulfil everything remaining
            "fulfillmentOrderLineItems": [
                {"id": "gid://shopify/FulfillmentOrderLineItem/12", "quantity": 2}
            ],
        }
    ]
    assert variables["trackingInfo"] == {
        "company": "UPS",
        "number": "1Z999",
        "url": "https://ups.example/1Z999",
    }
    assert variables["notifyCustomer"] is True


def test_f1_two_shipments_two_fulfillments_and_a_rerun_is_a_noop():
    first, second = hub(500, [("FERN-1", 2)], [UPS]), hub(501, [("MOSS-2", 1)], [USPS])
    before = three_line_order()
    plans = [plan(first, before), plan(second, before)]
    assert [p.status for p in plans] == [PlanStatus.CREATE, PlanStatus.CREATE]
    assert [p.variables()["fulfillment"]["trackingInfo"]["number"] for p in plans] == [
        "1Z999",
        "9400111",
    ]
    # the first push landed: the retailer now shows it and FERN has nothing left
    lines = [line_item(1, "FERN-1", 2), line_item(2, "MOSS-2", 1), line_item(3, "ROSE-3", 3)]
    fo = fulfillment_order(
        10, [fo_line(10, lines[0], 0), fo_line(11, lines[1], 1), fo_line(12, lines[2], 3)],
        status="IN_PROGRESS",
    )  # fmt: skip
    pushed = fulfillment(900, [("FERN-1", 2)], tracking=[UPS])
    after = retailer_order(lines=lines, fulfillment_orders=[fo], fulfillments=[pushed])
    rerun = plan(first, after)
    assert (rerun.status, rerun.existing_fulfillment_id) == (
        PlanStatus.EXISTS,
        "gid://shopify/Fulfillment/900",
    )
    assert plan(second, after, exclude_ids=["gid://shopify/Fulfillment/900"]).status is (
        PlanStatus.CREATE
    )


def test_f1_one_customer_email_per_shipment_is_configurable():
    result = plan(hub(500, [("FERN-1", 1)]), three_line_order(), notify_customer=False)
    assert result.variables()["fulfillment"]["notifyCustomer"] is False
    assert "trackingInfo" not in result.variables()["fulfillment"]


def test_f3_hub_orders_query_is_keyed_on_hub_order_updated_at_and_the_retailer_tag():
    start = datetime(2025, 1, 18, 9, tzinfo=UTC)
    query = hub_orders_query(start, start + timedelta(hours=1), "epic-gardening")
    assert query == (
        "updated_at:>='2025-01-18T09:00:00Z' updated_at:<'2025-01-18T10:00:00Z' "
        "tag:'shopsync-retailer:epic-gardening'"
    )


def test_f4_crash_after_create_is_detected_by_tracking_number_match():
    hub_ff = hub(500, [("FERN-1", 2)], [UPS])
    ours = Fulfillment.from_graphql(fulfillment(900, [("FERN-1", 2)], tracking=[UPS]))
    other = Fulfillment.from_graphql(fulfillment(901, [("FERN-1", 2)], tracking=[USPS]))
    assert find_existing_retailer_fulfillment(hub_ff, [other, ours]) == ours.id
    assert find_existing_retailer_fulfillment(hub_ff, [other]) is None
    assert find_existing_retailer_fulfillment(hub_ff, [ours], exclude_ids=[ours.id]) is None


def test_f4_untracked_shipment_matches_only_identical_lines_created_after_it():
    hub_ff = hub(500, [("FERN-1", 2)], created=NOW)
    later = Fulfillment.from_graphql(
        fulfillment(900, [("FERN-1", 2)], created=NOW + timedelta(minutes=1))
    )
    earlier = Fulfillment.from_graphql(
        fulfillment(901, [("FERN-1", 2)], created=NOW - timedelta(days=1))
    )
    fewer = Fulfillment.from_graphql(
        fulfillment(902, [("FERN-1", 1)], created=NOW + timedelta(minutes=1))
    )
    cancelled = Fulfillment.from_graphql(
        fulfillment(903, [("FERN-1", 2)], status="CANCELLED", created=NOW + timedelta(minutes=1))
    )
    assert find_existing_retailer_fulfillment(hub_ff, [earlier, fewer, cancelled]) is None
    assert find_existing_retailer_fulfillment(hub_ff, [earlier, later]) == later.id


@pytest.mark.parametrize(
    ("retailer_tracking", "changed"),
    [
        ([UPS], False),
        ([("UPS", "1Z999", None)], True),  # the hub added a URL
        ([("UPS", "1Z000", "https://ups.example/1Z000")], True),  # corrected number
        ([], True),  # tracking added later at the hub
    ],
)
def test_f5_tracking_change_is_an_update_not_a_new_fulfillment(retailer_tracking, changed):
    hub_ff = hub(500, [("FERN-1", 2)], [UPS])
    retailer_ff = Fulfillment.from_graphql(
        fulfillment(900, [("FERN-1", 2)], tracking=retailer_tracking)
    )
    update = tracking_changed(hub_ff, retailer_ff)
    assert (update is not None) is changed
    if changed:
        assert update == {"company": "UPS", "number": "1Z999", "url": "https://ups.example/1Z999"}


def test_f5_no_hub_tracking_never_erases_the_retailers():
    retailer_ff = Fulfillment.from_graphql(fulfillment(900, [("FERN-1", 2)], tracking=[UPS]))
    assert tracking_changed(hub(500, [("FERN-1", 2)]), retailer_ff) is None


def test_several_tracking_numbers_use_the_numbers_and_urls_form():
    assert tracking_input([track(*UPS), track(*USPS)]) == {
        "company": "UPS",
        "numbers": ["1Z999", "9400111"],
        "urls": ["https://ups.example/1Z999", "https://usps.example/9400111"],
    }
    # a missing URL would shift Shopify's positional pairing: send numbers only
    partial = tracking_input([track(*UPS), track("USPS", "9400111", None)])
    assert partial == {"company": "UPS", "numbers": ["1Z999", "9400111"]}
    result = plan(hub(500, [("FERN-1", 1)], [UPS, USPS]), three_line_order())
    assert result.warnings and "only the first" in result.warnings[0]


@pytest.mark.parametrize(
    ("status", "remaining", "reason"),
    [
        ("CLOSED", 2, PlanReason.FO_CLOSED),
        ("CLOSED", 0, PlanReason.ALREADY_FULFILLED),
        ("CANCELLED", 2, PlanReason.FO_CANCELLED),
        ("ON_HOLD", 2, PlanReason.FO_ON_HOLD),
        ("OPEN", 0, PlanReason.ALREADY_FULFILLED),
        ("INCOMPLETE", 2, PlanReason.FO_CLOSED),
    ],
)
def test_f6_unpushable_fulfillment_order_is_terminal_with_a_reason(status, remaining, reason):
    fern = line_item(1, "FERN-1", 2)
    fo = fulfillment_order(10, [fo_line(10, fern, remaining)], status=status)
    result = plan(hub(500, [("FERN-1", 2)]), retailer_order(lines=[fern], fulfillment_orders=[fo]))
    assert (result.status, result.reason) == (PlanStatus.TERMINAL, reason)
    assert result.shortfalls[0].sku == "FERN-1" and "FERN-1" in result.message


def test_f6_fulfillment_order_moved_away_from_the_hub_location():
    fern = line_item(1, "FERN-1", 2)
    closed_here = fulfillment_order(10, [fo_line(10, fern, 0)], status="CLOSED")
    open_there = fulfillment_order(20, [fo_line(20, fern, 2)], location=OTHER_LOCATION)
    moved = retailer_order(lines=[fern], fulfillment_orders=[closed_here, open_there])
    assert plan(hub(500, [("FERN-1", 2)]), moved).reason is PlanReason.FO_MOVED
    gone = retailer_order(lines=[fern], fulfillment_orders=[open_there])
    result = plan(hub(500, [("FERN-1", 2)]), gone)
    assert (result.status, result.reason) == (PlanStatus.TERMINAL, PlanReason.FO_MOVED)


def test_over_fulfilment_pushes_what_fits_and_reports_the_rest():
    result = plan(hub(500, [("MOSS-2", 3), ("FERN-1", 1)]), three_line_order())
    assert result.status is PlanStatus.CREATE
    assert {(pl.sku, pl.quantity) for pl in result.lines} == {("MOSS-2", 1), ("FERN-1", 1)}
    (short,) = result.shortfalls
    assert (short.sku, short.wanted, short.planned, short.reason) == (
        "MOSS-2",
        3,
        1,
        PlanReason.OVER_FULFILMENT,
    )


def test_units_split_over_two_hub_location_fulfillment_orders():
    fern = line_item(1, "FERN-1", 3)
    fos = [
        fulfillment_order(10, [fo_line(10, fern, 1, total=1)]),
        fulfillment_order(11, [fo_line(11, fern, 2, total=2)], status="IN_PROGRESS"),
        fulfillment_order(12, [fo_line(12, fern, 5, total=5)], location=OTHER_LOCATION),
    ]
    result = plan(hub(500, [("FERN-1", 3)]), retailer_order(lines=[fern], fulfillment_orders=fos))
    assert [(pl.fulfillment_order_id[-2:], pl.quantity) for pl in result.lines] == [
        ("10", 1),
        ("11", 2),
    ]


@pytest.mark.parametrize(
    ("hub_status", "order_kw", "expected"),
    [
        ("CANCELLED", {}, (PlanStatus.TERMINAL, PlanReason.HUB_CANCELLED)),
        ("PENDING", {}, (PlanStatus.WAIT, PlanReason.HUB_PENDING)),
        ("SUCCESS", {"cancelled": NOW}, (PlanStatus.TERMINAL, PlanReason.ORDER_CANCELLED)),
    ],
)
def test_o8_and_hub_side_outcomes(hub_status, order_kw, expected):
    result = plan(hub(500, [("FERN-1", 1)], status=hub_status), three_line_order(**order_kw))
    assert (result.status, result.reason) == expected
    with pytest.raises(ValueError):
        result.variables()


def test_hub_line_without_sku_is_reported_not_guessed():
    result = plan(hub(500, [(None, 1)]), three_line_order())
    assert (result.status, result.reason) == (PlanStatus.TERMINAL, PlanReason.SKU_MISSING)


# -- O6: every page and every line is read --------------------------------------------------


class FakeShopify:
    """Serves follow-up pages keyed by (operation, id, after): a stand-in for the client."""

    def __init__(self, pages: dict[tuple[str, str, str | None], dict]):
        self.pages, self.calls = pages, []

    def __call__(self, operation: str, variables: dict) -> dict:
        self.calls.append((operation, variables["id"], variables.get("after")))
        return self.pages[(operation, variables["id"], variables.get("after"))]


def test_o6_complete_order_reads_every_line_item_and_fulfillment_order_page():
    lines = [line_item(i, f"SKU-{i}", 1) for i in range(1, 14)]
    node = retailer_order(lines=lines[:10], fulfillment_orders=[])
    node["lineItems"] = page(lines[:10], has_next=True, cursor="L10")
    fo_a = fulfillment_order(10, [fo_line(100 + i, li, 1) for i, li in enumerate(lines[:10])])
    fo_a["lineItems"] = page(fo_a["lineItems"]["nodes"], has_next=True, cursor="F10")
    node["fulfillmentOrders"] = page([fo_a], has_next=True, cursor="FO1")
    fo_b = fulfillment_order(11, [fo_line(200, lines[12], 1)], location=OTHER_LOCATION)
    more_fo_lines = [fo_line(110 + i, li, 1) for i, li in enumerate(lines[10:12])]
    oid = node["id"]
    fake = FakeShopify(
        {
            ("order_line_items_page", oid, "L10"): {"order": {"lineItems": page(lines[10:])}},
            ("order_fulfillment_orders", oid, "FO1"): {
                "order": {"fulfillmentOrders": page([fo_b])}
            },
            ("order_fulfillment_order_line_items_page", fo_a["id"], "F10"): {
                "fulfillmentOrder": {"lineItems": page(more_fo_lines)}
            },
        }
    )
    order = RetailerOrder.from_graphql(complete_order(node, fake))
    assert [line.sku for line in order.lines] == [f"SKU-{i}" for i in range(1, 14)]
    assert [len(fo.lines) for fo in order.fulfillment_orders] == [12, 1]
    assert node["lineItems"]["pageInfo"]["hasNextPage"] is True  # the input is not mutated
    assert len(fake.calls) == 3


def test_o6_full_fulfillments_list_is_reread_with_all_lines():
    listed = [fulfillment(500 + i, [("FERN-1", 1)]) for i in range(HUB_ORDER_FULFILLMENTS_FIRST)]
    listed[0]["fulfillmentLineItems"] = page(listed[0]["fulfillmentLineItems"]["nodes"], True, "X")
    node = hub_order(77, source="src:r:1", fulfillments=listed)
    sixth = {k: v for k, v in fulfillment(505, []).items() if k != "fulfillmentLineItems"}
    everything = [{k: v for k, v in f.items() if k != "fulfillmentLineItems"} for f in listed]
    extra_line = fulfillment(599, [("MOSS-2", 4)])["fulfillmentLineItems"]
    sixth_lines = fulfillment(505, [("ROSE-3", 2)])["fulfillmentLineItems"]
    lines_page = "fulfillments_fulfillment_line_items_page"
    fake = FakeShopify(
        {
            ("fulfillments_order_fulfillments", node["id"], None): {
                "order": {"fulfillments": [*everything, sixth]}
            },
            (lines_page, listed[0]["id"], "X"): {"node": {"fulfillmentLineItems": extra_line}},
            (lines_page, sixth["id"], None): {"node": {"fulfillmentLineItems": sixth_lines}},
        }
    )
    order = HubOrder.from_graphql(
        complete_order(node, fake, fulfillments_first=HUB_ORDER_FULFILLMENTS_FIRST)
    )
    assert len(order.fulfillments) == 6
    assert order.fulfillments[0].quantities_by_sku() == {"FERN-1": 1, "MOSS-2": 4}
    assert order.fulfillments[5].quantities_by_sku() == {"ROSE-3": 2}
    assert order.fulfillments[5].order_id == node["id"]


def test_f4_tracking_evidence_picks_the_push_when_two_candidates_fit():
    hub_ff = hub(500, [("FERN-1", 2)], [UPS])
    other_push = Fulfillment.from_graphql(fulfillment(899, [("FERN-1", 1)], tracking=[USPS]))
    ours = Fulfillment.from_graphql(fulfillment(900, [("FERN-1", 2)], tracking=[UPS]))
    assert find_existing_retailer_fulfillment(hub_ff, [other_push, ours]) == ours.id
