"""SKU matching policy (FAULTS O11): exact by default, normalisation only when the registry
opts a retailer in, and the same policy wherever retailer and hub SKUs meet (order import,
stock levels, shipments). Pure rules: no I/O."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from flow_fixtures import (
    HUB_LOCATION,
    NOW,
    fo_line,
    fulfillment,
    fulfillment_order,
    hub_variant,
    line_item,
    retailer_order,
)

from resources.registry import DEFAULT_REGISTRY_PATH, RegistryError, parse_registry
from sync.fulfillments import PlanReason, PlanStatus, plan_retailer_fulfillments
from sync.inventory import Mismatch, levels_frame, pair_skus
from sync.models import HubFulfillment, OrderLine, RetailerOrder
from sync.order_payload import build_hub_order_input
from sync.orders import Reason, Status, classify_order
from sync.sku_matching import (
    EXACT,
    LOOSE,
    HubSkus,
    MatchKind,
    SkuMatching,
    describe_difference,
    fold_units,
    lookup_candidates,
    match_sku,
    same_sku,
)

TRIM = SkuMatching(trim_whitespace=True)
CASE = SkuMatching(ignore_case=True)
RETAILER = "epic-gardening"


# -- what differs, said exactly ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("retailer_sku", "hub_sku", "expected"),
    [
        ("X ", "X", "'X ' has a trailing space; the hub sells 'X'"),
        (" X", "X", "' X' has a leading space; the hub sells 'X'"),
        (" X  ", "X", "' X  ' has a leading space and 2 trailing spaces; the hub sells 'X'"),
        ("X\t", "X", "'X\\t' has a trailing tab; the hub sells 'X'"),
        ("X\u00a0", "X", "'X\\xa0' has a trailing non-breaking space; the hub sells 'X'"),
        ("X \t", "X", "'X \\t' has trailing whitespace ' \\t'; the hub sells 'X'"),
        ("abc-1", "ABC-1", "'abc-1' differs in letter case from the hub's 'ABC-1'"),
        (
            " abc-1",
            "ABC-1",
            "' abc-1' has a leading space and differs in letter case from the hub's 'ABC-1'",
        ),
        ("X", "X ", "the hub's 'X ' has a trailing space; the retailer sells 'X'"),
    ],
)
def test_o11_difference_is_described_exactly(retailer_sku, hub_sku, expected):
    """O11: the message says exactly what differs; repr quoting makes tabs and
    non-breaking spaces visible, which a plain quote would hide."""
    assert describe_difference(retailer_sku, hub_sku) == expected


# -- the matching rule ------------------------------------------------------------------------


def test_o11_exact_policy_matches_only_identical_skus_and_explains_near_misses():
    """O11 by default: 'X ' is not 'X'; the near miss names the option that would accept it."""
    hub = ["PLT-1", "ABC-1"]
    assert match_sku("PLT-1", hub).kind is MatchKind.EXACT
    near = match_sku("PLT-1 ", hub, EXACT, retailer=RETAILER)
    assert (near.kind, near.hub_skus, near.hub_sku) == (MatchKind.NEAR_MISS, ("PLT-1",), None)
    assert near.message == (
        "'PLT-1 ' has a trailing space; the hub sells 'PLT-1': correct the SKU at the retailer, "
        f"or opt retailer '{RETAILER}' into sku_matching: {{trim_whitespace: true, "
        "ignore_case: false} in the registry"
    )
    cased = match_sku("abc-1", hub, EXACT, retailer=RETAILER)
    assert cased.kind is MatchKind.NEAR_MISS
    assert "{trim_whitespace: false, ignore_case: true}" in cased.fix
    assert match_sku("PLT-2", hub).kind is MatchKind.UNKNOWN
    # whitespace inside a SKU is never normalised away
    assert match_sku("PLT -1", ["PLT-1"], LOOSE).kind is MatchKind.UNKNOWN


def test_o11_opted_in_policy_matches_and_describes_the_normalisation():
    """O11 opted in: matched to the hub's SKU, with the difference kept for the report."""
    match = match_sku(" PLT-1", ["PLT-1"], TRIM)
    assert (match.kind, match.hub_sku, match.pair) == (
        MatchKind.NORMALISED,
        "PLT-1",
        "' PLT-1' → 'PLT-1'",
    )
    assert match.detail == "' PLT-1' has a leading space; the hub sells 'PLT-1'"
    assert match_sku("plt-1", ["PLT-1"], CASE).hub_sku == "PLT-1"
    # one option does not imply the other: trimming does not ignore case
    partial = match_sku(" plt-1", ["PLT-1"], TRIM, retailer=RETAILER)
    assert partial.kind is MatchKind.NEAR_MISS
    assert "{trim_whitespace: true, ignore_case: true}" in partial.fix
    assert match_sku(" plt-1", ["PLT-1"], LOOSE).hub_sku == "PLT-1"


def test_o11_normalisation_onto_two_hub_skus_is_ambiguous_and_names_both():
    """O11: 'abc' and 'ABC' both at the hub: 'Abc' under ignore_case matches neither."""
    match = match_sku("Abc", ["abc", "ABC"], CASE)
    assert (match.kind, set(match.hub_skus)) == (MatchKind.AMBIGUOUS, {"abc", "ABC"})
    assert "'ABC'" in match.message and "'abc'" in match.message
    assert "correct the SKU at the retailer to exactly one of them" in match.message
    # an exact SKU is never made ambiguous by normalisation
    assert match_sku("abc", ["abc", "ABC"], CASE).kind is MatchKind.EXACT
    # the same two under the exact policy: a near miss of both, opting in would not help
    near = match_sku("Abc", ["abc", "ABC"], EXACT, retailer=RETAILER)
    assert near.kind is MatchKind.NEAR_MISS and "sku_matching" not in near.fix
    assert "'ABC'" in near.detail and "'abc'" in near.detail


def test_o11_pairwise_comparison_and_lookup_forms():
    """Shipment lines compare pairwise under the policy; the hub is asked for trimmed and
    re-cased forms of a SKU it did not know exactly, never for the SKU twice."""
    assert same_sku("X ", "X", TRIM) and not same_sku("X ", "X", EXACT)
    assert not same_sku(None, "X", LOOSE)
    assert lookup_candidates([" abc-1 ", "ABC-2"]) == ["abc-1", "ABC-1", "abc-2"]
    assert lookup_candidates(["ABC-1"]) == ["abc-1"]


def test_o11_pending_demand_is_counted_against_the_hub_sku_it_ships_as():
    """Inventory: demand landed as 'X ' lowers the hub's 'X' (never an ambiguous one)."""
    hub = HubSkus(["X", "abc", "ABC"])
    assert fold_units({"X": 2, "X ": 3, "Abc": 1, "Y": 4}, hub, LOOSE) == {
        "X": 5,
        "Abc": 1,
        "Y": 4,
    }


# -- models and registry ----------------------------------------------------------------------


def test_o11_order_lines_keep_the_retailer_sku_verbatim():
    """The typed view no longer strips: what lands is what the retailer has."""
    assert OrderLine.from_graphql(line_item(1, "FERN-1 ", 1)).sku == "FERN-1 "
    assert OrderLine.from_graphql(line_item(1, "   ", 1)).sku is None


def _registry(sku_matching):
    raw = copy.deepcopy(yaml.safe_load(DEFAULT_REGISTRY_PATH.read_text()))
    raw["retailers"][2]["sku_matching"] = sku_matching
    return parse_registry(raw, Path("test.yaml"))


def test_o11_registry_option_defaults_to_exact_and_is_validated_at_load():
    """The option per retailer; a typo fails at load naming the retailer and the field."""
    registry = _registry({"trim_whitespace": True})
    assert registry.retailer(RETAILER).sku_matching == TRIM
    assert registry.retailer("nationwide-plants").sku_matching == EXACT
    assert EXACT.exact and not TRIM.exact
    with pytest.raises(RegistryError) as exc:
        _registry({"trim_whitespaces": True})
    assert exc.value.problems == [
        f"retailer '{RETAILER}': sku_matching.trim_whitespaces: unknown field (check the spelling)"
    ]
    with pytest.raises(RegistryError) as exc:
        _registry({"ignore_case": "sometimes"})
    assert exc.value.problems[0].startswith(f"retailer '{RETAILER}': sku_matching.ignore_case")


# -- order import -----------------------------------------------------------------------------


def _order(*skus: str) -> dict:
    lines = [line_item(i + 1, sku, 2) for i, sku in enumerate(skus)]
    fo = fulfillment_order(10, [fo_line(10 + i, li, 2) for i, li in enumerate(lines)])
    return retailer_order(lines=lines, fulfillment_orders=[fo])


def _classify(node: dict, variants: dict, policy: SkuMatching = EXACT):
    return classify_order(
        RetailerOrder.from_graphql(node),
        hub_location_id=HUB_LOCATION,
        hub_variants_by_sku=variants,
        now=NOW,
        retailer=RETAILER,
        sku_matching=policy,
    )


HUB_VARIANTS = {"FERN-1": [hub_variant(1, "FERN-1")], "MOSS-2": [hub_variant(2, "MOSS-2")]}


def test_o11_near_miss_quarantines_the_order_saying_what_differs_and_the_fix():
    """O11 default: the whole order is held with the exact difference, the retailer, the
    order and both fixes (correct the SKU, or opt in)."""
    c = _classify(_order("FERN-1 ", "MOSS-2"), HUB_VARIANTS)
    assert (c.status, c.reason, c.problem_skus) == (
        Status.QUARANTINED,
        Reason.SKU_NEAR_MISS,
        ("FERN-1 ",),
    )
    assert c.message == (
        f"retailer '{RETAILER}' order #1001 (gid://shopify/Order/1001): whole order held; "
        "SKU 'FERN-1 ' has a trailing space; the hub sells 'FERN-1': correct the SKU at the "
        f"retailer, or opt retailer '{RETAILER}' into sku_matching: {{trim_whitespace: true, "
        "ignore_case: false} in the registry, then re-run the order's partition"
    )
    unknown_too = _classify(_order("moss-2", "NOPE"), HUB_VARIANTS)
    assert unknown_too.reason is Reason.SKU_UNKNOWN  # the first problem named is the unknown
    assert "'NOPE' not sold by the hub" in unknown_too.message
    assert "'moss-2' differs in letter case from the hub's 'MOSS-2'" in unknown_too.message


def test_o11_opted_in_order_is_eligible_with_verbatim_lines_hub_variants_and_a_report():
    """O11 opted in: eligible; each line keeps the retailer's SKU and carries the hub's
    variant (the hub order is made with it); the normalisations are listed."""
    c = _classify(_order(" FERN-1", "moss-2", "MOSS-2"), HUB_VARIANTS, LOOSE)
    assert c.eligible
    assert [(line.sku, line.variant.sku) for line in c.lines] == [
        (" FERN-1", "FERN-1"),
        ("moss-2", "MOSS-2"),
        ("MOSS-2", "MOSS-2"),
    ]
    assert [m.pair for m in c.normalised] == ["' FERN-1' → 'FERN-1'", "'moss-2' → 'MOSS-2'"]
    order_input = build_hub_order_input(
        RetailerOrder.from_graphql(_order(" FERN-1", "moss-2", "MOSS-2")), c,
        retailer_key=RETAILER, retailer_name="Epic", billing_address={},
    )  # fmt: skip
    assert [li["variantId"] for li in order_input["lineItems"]] == [
        "gid://shopify/ProductVariant/1",
        "gid://shopify/ProductVariant/2",
        "gid://shopify/ProductVariant/2",
    ]


def test_o11_normalisation_onto_two_hub_skus_quarantines_naming_both():
    """O11: with ignore_case, 'Abc' could be the hub's 'abc' or 'ABC': held, both named."""
    variants = {"abc": [hub_variant(1, "abc")], "ABC": [hub_variant(2, "ABC")]}
    c = _classify(_order("Abc"), variants, CASE)
    assert (c.status, c.reason, c.problem_skus) == (
        Status.QUARANTINED,
        Reason.SKU_AMBIGUOUS,
        ("Abc",),
    )
    assert "'Abc' matches several hub SKUs once normalised" in c.message
    assert "'ABC'" in c.message and "'abc'" in c.message
    assert _classify(_order("abc"), variants, CASE).lines[0].variant.id.endswith("/1")


# -- stock levels -----------------------------------------------------------------------------


def _levels(*rows, retailer: bool = False):
    keys = ("item_id", "sku", "available") + (("active",) if retailer else ())
    extra = (True,) if retailer else ()
    return levels_frame(
        [dict(zip(keys, (*r, *extra), strict=True)) for r in rows], with_active=retailer
    )


def test_o11_inventory_pairs_normalised_skus_only_when_opted_in():
    """Inventory uses the retailer's policy: exact reports a near miss (not synced, with the
    difference); opted in, the retailer item is synced from the hub SKU and listed."""
    hub = _levels(("h1", "PLT-1", 7), ("h2", "abc", 1), ("h3", "ABC", 1))
    retailer = _levels(("r1", "PLT-1 ", 0), ("r2", "Abc", 0), retailer=True)
    exact = pair_skus(hub, retailer)
    assert exact.pairs.empty and exact.normalised == []
    kinds = dict(zip(exact.mismatches["sku"], exact.mismatches["kind"], strict=True))
    assert kinds == {"PLT-1 ": Mismatch.SKU_NEAR_MISS, "Abc": Mismatch.SKU_NEAR_MISS}
    loose = pair_skus(hub, retailer, sku_matching=LOOSE)
    paired = loose.pairs[["sku", "retailer_sku", "item_id", "hub_available"]]
    assert paired.to_dict("records") == [
        {"sku": "PLT-1", "retailer_sku": "PLT-1 ", "item_id": "r1", "hub_available": 7}
    ]
    assert loose.normalised == ["'PLT-1 ' → 'PLT-1'"]
    ambiguous = loose.mismatches[loose.mismatches["kind"] == Mismatch.SKU_NORMALISED_AMBIGUOUS]
    assert list(ambiguous["sku"]) == ["Abc"]
    assert "'ABC'" in ambiguous["detail"].iloc[0] and "'abc'" in ambiguous["detail"].iloc[0]
    assert loose.attention() == 1 and exact.attention() == 2


# -- shipments --------------------------------------------------------------------------------


def test_o11_shipment_of_a_normalised_order_is_pushed_onto_the_retailer_line():
    """Fulfillment push: the hub ships 'FERN-1'; the retailer line is 'FERN-1 '. Under the
    retailer's opted-in policy it is found (and a re-read push is recognised); exact, the
    units find no line."""
    lines = [line_item(1, "FERN-1 ", 2)]
    fo = fulfillment_order(10, [fo_line(10, lines[0], 2)])
    order = RetailerOrder.from_graphql(retailer_order(lines=lines, fulfillment_orders=[fo]))
    shipped = HubFulfillment.from_graphql(fulfillment(500, [("FERN-1", 2)]))

    def plan(order, policy):
        return plan_retailer_fulfillments(
            shipped, order, hub_location_id=HUB_LOCATION, sku_matching=policy
        )

    opted = plan(order, TRIM)
    assert opted.status is PlanStatus.CREATE
    assert [(pl.fulfillment_order_line_item_id, pl.quantity) for pl in opted.lines] == [
        ("gid://shopify/FulfillmentOrderLineItem/10", 2)
    ]
    assert plan(order, EXACT).reason is PlanReason.FO_MOVED
    pushed = fulfillment(900, [("FERN-1 ", 2)], created=NOW.replace(hour=13))
    done = [fo_line(10, lines[0], 0)]
    after = RetailerOrder.from_graphql(
        retailer_order(lines=lines, fulfillment_orders=[fulfillment_order(10, done)],
                       fulfillments=[pushed])
    )  # fmt: skip
    again = plan(after, TRIM)
    assert (again.status, again.existing_fulfillment_id) == (
        PlanStatus.EXISTS,
        "gid://shopify/Fulfillment/900",
    )
