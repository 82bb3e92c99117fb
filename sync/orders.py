"""Order import rules: is a retailer order the hub's to ship now, and what exactly?

Only lines on fulfillment orders assigned to the retailer's hub location are the hub's, and
their quantity is what remains to ship there (`remainingQuantity`, FACTS §8), never the
ordered quantity. One unusable line holds the **whole** order: a partial hub order would
ship a partial parcel that nobody can complete later (O7).

Decision order (first match wins), so that an order is reported for the reason an operator
can act on, and transient states are not alerted as errors:

1. cancelled -> quarantined `cancelled`
2. no fulfillment orders at all -> waiting `hold_window` while young (Shopify creates FOs
   asynchronously), else quarantined `no_fulfillment_orders` (usually a missing FO scope)
3. no fulfillment order at the hub location -> ignored `not_for_hub` (not the hub's order)
4. payment VOIDED / EXPIRED / REFUNDED -> quarantined `payment_void` (will never be paid)
5. payment not in `paid_statuses` -> waiting `unpaid` (PENDING, AUTHORIZED, PARTIALLY_PAID)
6. a hub-location FO ON_HOLD or SCHEDULED with units left -> waiting `on_hold`
7. younger than the hold window -> waiting `hold_window` (the retailer may still cancel)
8. nothing remaining at the hub location -> quarantined `nothing_to_ship`
9. no usable shipping address -> quarantined `no_shipping_address`
10. SKUs unknown to the hub (`sku_unknown`), differing from a hub SKU only by surrounding
    whitespace or letter case while the retailer's `sku_matching` does not allow it
    (`sku_near_miss`, O11), or sold by several hub variants or matching several hub SKUs once
    normalised (`sku_ambiguous`) -> quarantined, listing every bad SKU and what differs

SKUs match exactly unless the retailer opted into normalisation (`sync.sku_matching`); the
lines keep the retailer's SKU verbatim and carry the hub variant they matched, and every
normalised match is listed in `Classification.normalised` for the data-quality report.

Classify orders that are not linked yet; a linked order goes through
`detect_post_import_changes` instead (after our own push its hub FO is closed, which step 8
would otherwise report).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sync.models import (
    HELD_FO_STATUSES,
    OPEN_FO_STATUSES,
    HubVariant,
    RetailerOrder,
    _Model,
    as_hub_variants,
)
from sync.sku_matching import EXACT, HubSkus, MatchKind, SkuMatch, SkuMatching

DEFAULT_HOLD_WINDOW = timedelta(minutes=2)
#: AUTHORIZED is excluded by default: the hub ships only what is paid (DESIGN flow 1). A
#: retailer that captures on fulfillment can pass PAID_STATUSES | {"AUTHORIZED"}.
PAID_STATUSES = frozenset({"PAID", "PARTIALLY_REFUNDED"})
VOID_STATUSES = frozenset({"VOIDED", "EXPIRED", "REFUNDED"})


class Status(StrEnum):
    ELIGIBLE = "eligible"
    WAITING = "waiting"
    QUARANTINED = "quarantined"
    IGNORED = "ignored"


class Reason(StrEnum):
    ELIGIBLE = "eligible"
    UNPAID = "unpaid"
    ON_HOLD = "on_hold"
    HOLD_WINDOW = "hold_window"
    CANCELLED = "cancelled"
    PAYMENT_VOID = "payment_void"
    NO_FULFILLMENT_ORDERS = "no_fulfillment_orders"
    NOT_FOR_HUB = "not_for_hub"
    NOTHING_TO_SHIP = "nothing_to_ship"
    NO_SHIPPING_ADDRESS = "no_shipping_address"
    SKU_UNKNOWN = "sku_unknown"
    SKU_AMBIGUOUS = "sku_ambiguous"
    SKU_NEAR_MISS = "sku_near_miss"


class HubLine(_Model):
    """One retailer order line as the hub must ship it."""

    line_item_id: str
    sku: str | None  # the retailer's, verbatim
    title: str | None = None
    quantity: int
    fulfillment_order_line_item_ids: tuple[str, ...] = ()
    variant: HubVariant | None = None  # set when the SKU maps to exactly one hub variant


class Classification(_Model):
    status: Status
    reason: Reason
    message: str
    lines: tuple[HubLine, ...] = ()
    problem_skus: tuple[str, ...] = ()
    retry_after: datetime | None = None
    #: Lines matched only through the retailer's opted-in normalisation (reported, O11).
    normalised: tuple[SkuMatch, ...] = ()

    @property
    def eligible(self) -> bool:
        return self.status is Status.ELIGIBLE


def hub_lines(order: RetailerOrder, hub_location_id: str) -> list[HubLine]:
    """Units left to ship at the hub location, summed per order line over its live FOs."""
    titles = {line.id: line.title for line in order.lines}
    skus = {line.id: line.sku for line in order.lines}
    found: dict[str, HubLine] = {}
    for fo in order.fulfillment_orders_at(hub_location_id):
        if fo.status not in OPEN_FO_STATUSES | HELD_FO_STATUSES:
            continue
        for fo_line in fo.lines:
            if fo_line.remaining_quantity <= 0:
                continue
            key = fo_line.line_item_id or fo_line.id
            prior = found.get(key)
            found[key] = HubLine(
                line_item_id=key,
                sku=fo_line.sku or skus.get(key),
                title=titles.get(key),
                quantity=(prior.quantity if prior else 0) + fo_line.remaining_quantity,
                fulfillment_order_line_item_ids=(
                    *(prior.fulfillment_order_line_item_ids if prior else ()),
                    fo_line.id,
                ),
            )
    return list(found.values())


def classify_order(
    order: RetailerOrder,
    *,
    hub_location_id: str,
    hub_variants_by_sku: Mapping[str, Sequence[HubVariant | Mapping[str, Any]]],
    now: datetime,
    hold_window: timedelta = DEFAULT_HOLD_WINDOW,
    paid_statuses: frozenset[str] = PAID_STATUSES,
    retailer: str = "",
    rerun_hint: str = "then re-run the order's partition",
    sku_matching: SkuMatching = EXACT,
) -> Classification:
    """Eligible, waiting, quarantined or ignored, with a reason code and a message naming
    the retailer, the order (name and GID) and what to do. See the module doc for the order.
    """
    who = (f"retailer '{retailer}' " if retailer else "") + f"order {order.name} ({order.id})"
    ready_at = order.created_at + hold_window if order.created_at else None
    young = ready_at is not None and now < ready_at

    def result(status: Status, reason: Reason, what: str, **kw: Any) -> Classification:
        return Classification(status=status, reason=reason, message=f"{who}: {what}", **kw)

    wait, quarantine = Status.WAITING, Status.QUARANTINED
    if order.cancelled_at is not None:
        return result(quarantine, Reason.CANCELLED, "cancelled at the retailer; nothing to do")
    if not order.fulfillment_orders:
        if young:
            return result(
                wait, Reason.HOLD_WINDOW, "fulfillment orders not created yet", retry_after=ready_at
            )
        return result(
            quarantine,
            Reason.NO_FULFILLMENT_ORDERS,
            "has no fulfillment orders visible to the app: grant it "
            f"read_merchant_managed_fulfillment_orders on the retailer store, {rerun_hint}",
        )
    hub_fos = order.fulfillment_orders_at(hub_location_id)
    if not hub_fos:
        return result(
            Status.IGNORED, Reason.NOT_FOR_HUB, f"no fulfillment order at {hub_location_id}"
        )
    financial = order.financial_status or "UNKNOWN"
    if financial in VOID_STATUSES:
        return result(
            quarantine, Reason.PAYMENT_VOID, f"payment is {financial}: it will not be shipped"
        )
    if financial not in paid_statuses:
        return result(wait, Reason.UNPAID, f"payment is {financial}; waiting until it is paid")
    lines = hub_lines(order, hub_location_id)
    held = [fo.id for fo in hub_fos if fo.status in HELD_FO_STATUSES]
    if held and lines:
        return result(wait, Reason.ON_HOLD, f"fulfillment order {', '.join(held)} is on hold")
    if young:
        return result(
            wait, Reason.HOLD_WINDOW, f"inside the {hold_window} hold window", retry_after=ready_at
        )
    if not lines:
        return result(
            quarantine,
            Reason.NOTHING_TO_SHIP,
            f"nothing left to ship at the hub location {hub_location_id} "
            "(already fulfilled, moved or closed at the retailer)",
        )
    if not _address_ok(order.shipping_address):
        return result(
            quarantine,
            Reason.NO_SHIPPING_ADDRESS,
            f"has no usable shipping address: add one at the retailer, {rerun_hint}",
        )
    variants = as_hub_variants(hub_variants_by_sku)
    return _resolve_skus(lines, variants, result, rerun_hint, sku_matching, retailer)


def _address_ok(address: Mapping[str, Any] | None) -> bool:
    if not address:
        return False
    country = address.get("countryCodeV2") or address.get("countryCode")
    return bool(address.get("address1") and address.get("city") and country)


def _resolve_skus(
    lines: list[HubLine], variants: dict[str, list[HubVariant]], result, hint, policy, retailer
):
    hub = HubSkus(sku for sku, found in variants.items() if found)
    unknown, near, ambiguous, resolved, normalised = [], [], [], [], []
    problems: list[str] = []
    for line in lines:
        if not line.sku:
            unknown.append(f"<no SKU on line '{line.title or line.line_item_id}'>")
            problems.append(unknown[-1])
            continue
        match = hub.match(line.sku, policy, retailer)
        if match.kind in (MatchKind.UNKNOWN, MatchKind.NEAR_MISS, MatchKind.AMBIGUOUS):
            problems.append(line.sku)
        if match.kind is MatchKind.UNKNOWN:
            unknown.append(line.sku)
        elif match.kind is MatchKind.NEAR_MISS:
            near.append(match.message)
        elif match.kind is MatchKind.AMBIGUOUS:
            ambiguous.append(f"SKU {match.message}")
        elif len(found := variants[match.hub_sku]) == 1:
            resolved.append(line.model_copy(update={"variant": found[0]}))
            if match.kind is MatchKind.NORMALISED:
                normalised.append(match)
        else:
            problems.append(line.sku)
            ids = ", ".join(v.id for v in found)
            ambiguous.append(f"SKU {match.hub_sku} ({ids}) matches several hub variants: "
                             "make hub SKUs unique")  # fmt: skip
    if not problems:
        return result(Status.ELIGIBLE, Reason.ELIGIBLE, "eligible", lines=tuple(resolved),
                      normalised=tuple(normalised))  # fmt: skip
    parts = []
    if unknown:
        quoted = ", ".join(f"'{s}'" for s in unknown)
        parts.append(
            f"SKU {quoted} not sold by the hub: add to the hub catalogue or remap at the retailer"
        )
    parts += [f"SKU {m}" for m in near] + ambiguous
    reason = (
        Reason.SKU_UNKNOWN if unknown else Reason.SKU_NEAR_MISS if near else Reason.SKU_AMBIGUOUS
    )
    message = "whole order held; " + "; ".join(parts) + f", {hint}"
    return result(Status.QUARANTINED, reason, message, problem_skus=tuple(problems))
