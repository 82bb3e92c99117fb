"""Fulfillment push rules: which retailer fulfillment a hub shipment becomes.

A hub fulfillment is pushed as exactly the units it shipped, by SKU, onto the retailer's
fulfillment order lines at the hub location: never "everything remaining" (an omitted
`fulfillmentOrderLineItems` means exactly that in `fulfillmentCreate`, FACTS §4.6). What cannot
be pushed is a terminal outcome with a reason, not an exception, so a closed or moved FO is
alerted once and never retried in a storm (F6).

Recognising a fulfillment we already created (F4): 2025-01 fulfillments carry no metafield or
note, so after a crash the retailer fulfillment is matched by content. A retailer fulfillment
R (status not CANCELLED, not already linked to another hub fulfillment: `exclude_ids`) is the
push of hub fulfillment H when R's units per SKU are non-empty and at most H's, and
- H has tracking numbers and R has exactly the same set, or
- H has no tracking numbers, R has none either, R's units equal H's exactly, and R was
  created after H.
Reconcile hub fulfillments oldest first so that two identical untracked shipments cannot both
claim the first retailer fulfillment.

SKUs: a hub shipment carries the hub's SKUs, the retailer's lines the retailer's. They are
compared exactly, or under the retailer's opted-in normalisation (`sku_matching`, O11), the
policy its orders were imported under.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sync.fulfillment_plan import (
    FulfillmentPlan,
    PlannedLine,
    PlanReason,
    PlanStatus,
    Shortfall,
    allocate,
)
from sync.models import Fulfillment, HubFulfillment, RetailerOrder, Tracking
from sync.order_keys import retailer_tag
from sync.sku_matching import EXACT, SkuMatching, same_sku
from sync.windows import quote_search_value, window_query

__all__ = [
    "FulfillmentPlan",
    "PlanReason",
    "PlanStatus",
    "PlannedLine",
    "Shortfall",
    "find_existing_retailer_fulfillment",
    "hub_orders_query",
    "plan_retailer_fulfillments",
    "tracking_changed",
    "tracking_input",
    "tracking_update_variables",
]

_FINAL_HUB_STATUSES = {"SUCCESS"}
_DEAD_HUB_STATUSES = {"CANCELLED", "ERROR", "FAILURE"}


def hub_orders_query(start: datetime, end: datetime, retailer_key: str) -> str:
    """Search filter for `fulfillments_updated_hub_orders`: one retailer's hub orders updated
    in the window (a new fulfillment updates its order, F3)."""
    return window_query(
        start, end, extra_terms=[f"tag:{quote_search_value(retailer_tag(retailer_key))}"]
    )


def tracking_input(tracking: Sequence[Tracking]) -> dict[str, Any] | None:
    """`FulfillmentTrackingInput` carrying every number (FACTS §4.6: `number`+`url` for one,
    `numbers`+`urls` for several, never mixed). One company field exists: the first given.
    URLs are sent only when every number has one, since Shopify pairs them by position."""
    entries = [t for t in tracking if t.number and t.number.strip()]
    numbers = list(dict.fromkeys(t.number.strip() for t in entries))  # type: ignore[union-attr]
    url_of = {t.number.strip(): t.url for t in entries if t.url}  # type: ignore[union-attr]
    company = next((t.company for t in tracking if t.company), None)
    out: dict[str, Any] = {"company": company} if company else {}
    if len(numbers) == 1:
        out["number"] = numbers[0]
        if numbers[0] in url_of:
            out["url"] = url_of[numbers[0]]
    elif numbers:
        out["numbers"] = numbers
        if all(n in url_of for n in numbers):
            out["urls"] = [url_of[n] for n in numbers]
    return out or None


def _units(fulfillment: Fulfillment) -> dict[str | None, int]:
    return fulfillment.quantities_by_sku()


def find_existing_retailer_fulfillment(
    hub_fulfillment: HubFulfillment,
    retailer_fulfillments: Iterable[Fulfillment],
    *,
    exclude_ids: Iterable[str] = (),
    sku_matching: SkuMatching = EXACT,
) -> str | None:
    """GID of the retailer fulfillment that already is this hub fulfillment's push (rule in
    the module doc), else None."""
    excluded = set(exclude_ids)
    hub_units, hub_numbers = _units(hub_fulfillment), set(hub_fulfillment.tracking_numbers)
    best: tuple[int, str] | None = None
    for candidate in retailer_fulfillments:
        if candidate.id in excluded or candidate.status == "CANCELLED":
            continue
        units = _as_hub_units(_units(candidate), hub_units, sku_matching)
        score = _match_score(hub_fulfillment, hub_units, hub_numbers, candidate, units)
        if score and (best is None or score > best[0]):
            best = (score, candidate.id)
    return best[1] if best else None


def _as_hub_units(
    units: dict[str | None, int], hub_units: dict[str | None, int], policy: SkuMatching
) -> dict[str | None, int]:
    """A retailer fulfillment's units keyed by the hub SKU each retailer SKU is (exact, or
    the one hub SKU of the shipment equal to it under `policy`)."""
    out: dict[str | None, int] = {}
    for sku, quantity in units.items():
        if sku not in hub_units:
            same = [h for h in hub_units if same_sku(sku, h, policy)]
            sku = same[0] if len(same) == 1 else sku
        out[sku] = out.get(sku, 0) + quantity
    return out


def _match_score(
    hub: Fulfillment,
    hub_units: dict[str | None, int],
    hub_numbers: set[str],
    candidate: Fulfillment,
    units: dict[str | None, int],
) -> int:
    """0 = not ours; higher = stronger evidence (tracking > identical untracked).
    `units`: the candidate's, keyed by hub SKU."""
    if not units or any(q > hub_units.get(sku, 0) for sku, q in units.items()):
        return 0
    numbers = set(candidate.tracking_numbers)
    if hub_numbers and numbers == hub_numbers:
        return 4
    after = (
        candidate.created_at is None
        or hub.created_at is None
        or (candidate.created_at >= hub.created_at)
    )
    if not hub_numbers and not numbers and units == hub_units and after:
        return 3
    return 0


def plan_retailer_fulfillments(
    hub_fulfillment: HubFulfillment,
    retailer_order: RetailerOrder,
    *,
    hub_location_id: str,
    notify_customer: bool = True,
    exclude_ids: Iterable[str] = (),
    sku_matching: SkuMatching = EXACT,
) -> FulfillmentPlan:
    """What to do for one hub fulfillment, given the retailer order read with
    `fulfillments_retailer_order_fulfillment_orders` (completed by `sync.follow_ups`).

    `exclude_ids`: retailer fulfillment GIDs the ledger already links to other hub
    fulfillments. Status CREATE may still list `shortfalls` (units that cannot be pushed, with
    reasons) next to the lines that can: the customer gets the tracking of what shipped.
    """
    base = {
        "hub_fulfillment_id": hub_fulfillment.id,
        "retailer_order_id": retailer_order.id,
        "notify_customer": notify_customer,
    }
    order = f"retailer order {retailer_order.name} ({retailer_order.id})"
    who = f"hub fulfillment {hub_fulfillment.id} -> {order}"
    if hub_fulfillment.status in _DEAD_HUB_STATUSES:
        return FulfillmentPlan(
            status=PlanStatus.TERMINAL,
            reason=PlanReason.HUB_CANCELLED,
            message=f"{who}: hub fulfillment is {hub_fulfillment.status}, nothing to push",
            **base,
        )
    if hub_fulfillment.status not in _FINAL_HUB_STATUSES:
        return FulfillmentPlan(
            status=PlanStatus.WAIT,
            reason=PlanReason.HUB_PENDING,
            message=f"{who}: hub fulfillment is {hub_fulfillment.status}; push once it succeeds",
            **base,
        )
    existing = find_existing_retailer_fulfillment(
        hub_fulfillment,
        retailer_order.fulfillments,
        exclude_ids=exclude_ids,
        sku_matching=sku_matching,
    )
    if existing:
        return FulfillmentPlan(
            status=PlanStatus.EXISTS,
            reason=PlanReason.ALREADY_PUSHED,
            message=f"{who}: already pushed as {existing}",
            existing_fulfillment_id=existing,
            **base,
        )
    if retailer_order.cancelled_at is not None:
        return FulfillmentPlan(
            status=PlanStatus.TERMINAL,
            reason=PlanReason.ORDER_CANCELLED,
            message=f"{who}: the retailer order is cancelled; hold the hub side, push nothing",
            **base,
        )
    lines, shortfalls = allocate(
        _units(hub_fulfillment), retailer_order, hub_location_id, sku_matching
    )
    companies = {t.company for t in hub_fulfillment.tracking if t.company}
    warnings = (
        (f"several carriers {sorted(companies)}: only the first is sent",)
        if len(companies) > 1
        else ()
    )
    detail = "; ".join(s.message for s in shortfalls)
    if not lines:
        reason = shortfalls[0].reason if shortfalls else PlanReason.NOTHING_SHIPPED
        return FulfillmentPlan(
            status=PlanStatus.TERMINAL,
            reason=reason,
            message=f"{who}: nothing can be pushed: {detail or 'the hub fulfillment has no lines'}",
            shortfalls=tuple(shortfalls),
            **base,
        )
    return FulfillmentPlan(
        status=PlanStatus.CREATE,
        reason=PlanReason.READY,
        message=f"{who}: push {sum(pl.quantity for pl in lines)} units"
        + (f"; not pushed: {detail}" if detail else ""),
        lines=tuple(lines),
        shortfalls=tuple(shortfalls),
        tracking_input=tracking_input(hub_fulfillment.tracking),
        warnings=warnings,
        **base,
    )


def tracking_changed(
    hub_fulfillment: Fulfillment, retailer_fulfillment: Fulfillment
) -> dict[str, Any] | None:
    """The `FulfillmentTrackingInput` to send when the hub's tracking differs from what the
    retailer fulfillment shows (F5), else None. Hub tracking never erases retailer tracking:
    no hub numbers -> None. URLs and company are compared only where the hub gives them
    (Shopify fills URLs in itself for known carriers)."""
    wanted = tracking_input(hub_fulfillment.tracking)
    if not wanted or not hub_fulfillment.tracking_numbers:
        return None
    if set(hub_fulfillment.tracking_numbers) != set(retailer_fulfillment.tracking_numbers):
        return wanted
    retailer_urls = {(t.number or "").strip(): t.url for t in retailer_fulfillment.tracking}
    for t in hub_fulfillment.tracking:
        if t.number and t.url and retailer_urls.get(t.number.strip()) != t.url:
            return wanted
    retailer_companies = {t.company for t in retailer_fulfillment.tracking if t.company}
    if wanted.get("company") and wanted["company"] not in retailer_companies:
        return wanted
    return None


def tracking_update_variables(
    retailer_fulfillment_id: str, tracking: dict[str, Any], *, notify_customer: bool = False
) -> dict[str, Any]:
    """Variables for `fulfillments_tracking_update`."""
    return {
        "fulfillmentId": retailer_fulfillment_id,
        "trackingInfoInput": tracking,
        "notifyCustomer": notify_customer,
    }
