"""What to do at the hub when an imported retailer order changes (FAULTS O12–O14).

Decided from two reads — the retailer order now and the hub order now — never from what
shopsync did before: a step retried after a lost response or a crash sees its own effect
at the hub (our hold, the cancelled order, the edited quantities) and plans nothing more.

- Cancelled at the retailer, nothing shipped at the hub: hold every open hub fulfillment
  order (the warehouse stops at once), then cancel the hub order (restock, no email).
- Cancelled after the hub shipped part: hold the unshipped remainder, cancel nothing;
  the order waits for a person (the exception queue).
- Edited at the retailer, nothing shipped: edit the hub order to the retailer's
  quantities at the hub location (set, remove, add). Shipping started, or a SKU the hub
  does not sell: hold and wait for a person. A removed line never ships.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sync.models import HELD_FO_STATUSES, OPEN_FO_STATUSES, RetailerOrder, nodes
from sync.sku_matching import EXACT, HubSkus, MatchKind, SkuMatching, fold_units

#: The handle of every hold shopsync places; a hold without it is someone else's.
HOLD_HANDLE = "shopsync"
LIVE_FO_STATUSES = OPEN_FO_STATUSES | HELD_FO_STATUSES


class Action(StrEnum):
    CANCEL = "cancel"  # hold, then cancel the hub order
    HOLD_FOR_REVIEW = "hold_for_review"  # hold and wait for a person
    EDIT = "edit"  # mirror the retailer's quantities on the hub order


@dataclass(frozen=True)
class HubHold:
    id: str
    handle: str | None


@dataclass(frozen=True)
class HubFulfillmentOrder:
    id: str
    status: str
    holds: tuple[HubHold, ...]
    remaining: Mapping[str, int]  # line item id -> units left on this FO
    location_id: str | None = None

    @property
    def live(self) -> bool:
        return self.status in LIVE_FO_STATUSES and any(self.remaining.values())

    @property
    def held_by_us(self) -> bool:
        return any(h.handle == HOLD_HANDLE for h in self.holds)


@dataclass(frozen=True)
class HubLineItem:
    id: str
    sku: str | None
    current_quantity: int
    variant_id: str | None


@dataclass(frozen=True)
class HubOrder:
    id: str
    name: str
    cancelled: bool
    lines: tuple[HubLineItem, ...]
    fulfillment_orders: tuple[HubFulfillmentOrder, ...]

    def unshipped(self, line_id: str) -> int:
        return sum(fo.remaining.get(line_id, 0) for fo in self.fulfillment_orders
                   if fo.status in LIVE_FO_STATUSES)  # fmt: skip

    def shipped(self, line_id: str) -> int:
        line = next(x for x in self.lines if x.id == line_id)
        return max(0, line.current_quantity - self.unshipped(line_id))

    @property
    def routed(self) -> bool:
        """Shopify creates an order's fulfillment orders shortly after the order: before
        that, nothing can be said of what shipped (`shipped` would count every unit)."""
        return self.cancelled or bool(self.fulfillment_orders)

    @property
    def any_shipped(self) -> bool:
        return any(self.shipped(line.id) for line in self.lines)

    @property
    def to_hold(self) -> list[HubFulfillmentOrder]:
        """Live fulfillment orders without our hold yet."""
        return [fo for fo in self.fulfillment_orders if fo.live and not fo.held_by_us]

    @classmethod
    def from_graphql(cls, node: Mapping[str, Any]) -> HubOrder:
        lines = tuple(
            HubLineItem(
                n["id"],
                n.get("sku"),
                int(n.get("currentQuantity") or 0),
                (n.get("variant") or {}).get("id"),
            )  # fmt: skip
            for n in nodes(node.get("lineItems"))
        )
        fos = []
        for fo in nodes(node.get("fulfillmentOrders")):
            remaining: dict[str, int] = {}
            for line in nodes(fo.get("lineItems")):
                item = (line.get("lineItem") or {}).get("id") or line["id"]
                remaining[item] = remaining.get(item, 0) + int(line.get("remainingQuantity") or 0)
            holds = tuple(
                HubHold(h["id"], h.get("handle")) for h in fo.get("fulfillmentHolds") or []
            )
            location = ((fo.get("assignedLocation") or {}).get("location") or {}).get("id")
            fos.append(HubFulfillmentOrder(fo["id"], fo["status"], holds, remaining, location))
        return cls(node["id"], node.get("name") or node["id"], bool(node.get("cancelledAt")),
                   lines, tuple(fos))  # fmt: skip


@dataclass(frozen=True)
class LineEdit:
    """One staged change: set a hub line to `quantity`, or add `variant_id` × `quantity`."""

    sku: str
    quantity: int
    line_id: str | None = None  # None: a line to add
    variant_id: str | None = None


@dataclass(frozen=True)
class FollowUp:
    """The plan for one order; `key` names the change it answers, so a second edit of the
    same order is a new follow-up and a retry of this one is the same."""

    action: Action
    key: str
    reason: str
    hold: tuple[str, ...] = ()  # fulfillment orders to hold first
    edits: tuple[LineEdit, ...] = ()
    lines: tuple[tuple[str, int, int], ...] = ()  # (sku, shipped, unshipped) for the reader
    done: bool = False  # the hub already is as it should be
    extra: Mapping[str, Any] = field(default_factory=dict)


def target_quantities(order: RetailerOrder, hub_location_id: str) -> dict[str, int]:
    """SKU -> units the hub order should hold for the retailer order as it is now: the
    current quantity (after edits and refunds, not lowered by shipping) of every line on a
    fulfillment order at the hub location."""
    at_hub = {fo_line.line_item_id for fo in order.fulfillment_orders_at(hub_location_id)
              for fo_line in fo.lines}  # fmt: skip
    target: dict[str, int] = {}
    for line in order.lines:
        if line.id in at_hub and line.sku and line.current_quantity:
            target[line.sku] = target.get(line.sku, 0) + line.current_quantity
    return target


def change_key(order: RetailerOrder, hub_location_id: str) -> str:
    """The key of the follow-up the order as it is now calls for (known before the hub is
    read, so a change already carried to the hub costs no read)."""
    if order.cancelled_at is not None:
        return "cancel"
    return f"edit:{_digest(target_quantities(order, hub_location_id))}"


def _digest(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _lines(hub: HubOrder) -> tuple[tuple[str, int, int], ...]:
    return tuple((line.sku or line.id, hub.shipped(line.id), hub.unshipped(line.id))
                 for line in hub.lines if line.current_quantity)  # fmt: skip


def plan_cancel(order: RetailerOrder, hub: HubOrder) -> FollowUp:
    key = "cancel"
    hold = tuple(fo.id for fo in hub.to_hold)
    if hub.cancelled:
        return FollowUp(Action.CANCEL, key, "the hub order is cancelled", done=True,
                        lines=_lines(hub))  # fmt: skip
    if hub.any_shipped:
        unshipped = any(hub.unshipped(line.id) for line in hub.lines)
        return FollowUp(
            Action.HOLD_FOR_REVIEW, key,
            f"cancelled at the retailer after the hub shipped part of {hub.name}: the "
            "unshipped remainder is held; refund or return the shipped lines with the "
            "retailer, then cancel or release the hub order by hand",
            hold=hold, lines=_lines(hub), done=not hold and not unshipped,
        )  # fmt: skip
    return FollowUp(Action.CANCEL, key, f"cancelled at the retailer before {hub.name} shipped",
                    hold=hold, lines=_lines(hub))  # fmt: skip


def plan_edit(
    order: RetailerOrder,
    hub: HubOrder,
    hub_location_id: str,
    hub_variants: Mapping[str, Sequence[str]],
    policy: SkuMatching = EXACT,
) -> FollowUp | None:
    """The edit that makes the hub order ship what the retailer order asks now (None: it
    already does). `hub_variants`: SKU -> hub variant ids, for lines to add. Retailer SKUs
    are read as the hub's under the retailer's matching `policy` (O11), so an order
    imported through a normalised match is not taken for an edit."""
    # The hub order's SKUs and those the hub sells for lines to add: a retailer SKU folds
    # onto the one it matches under the policy, or stays verbatim (and is not sold).
    on_hub = HubSkus([*(line.sku for line in hub.lines if line.sku), *hub_variants])
    target = fold_units(target_quantities(order, hub_location_id), on_hub, policy)
    current: dict[str, HubLineItem] = {}
    for line in hub.lines:
        if line.sku and line.current_quantity:
            current.setdefault(line.sku, line)
    if {s: current[s].current_quantity for s in current} == target:
        return None
    key = change_key(order, hub_location_id)
    if hub.cancelled:
        return FollowUp(Action.EDIT, key, "the hub order is cancelled: nothing to edit", done=True)
    edits, problems = [], []
    for sku, line in sorted(current.items()):
        if target.get(sku, 0) != line.current_quantity:
            edits.append(LineEdit(sku, target.get(sku, 0), line_id=line.id))
    for sku, quantity in sorted(target.items()):
        if sku in current:
            continue
        variants = list(hub_variants.get(sku, ()))
        if len(variants) != 1:
            near = on_hub.match(sku, policy)
            problems.append(
                near.message if near.kind in (MatchKind.NEAR_MISS, MatchKind.AMBIGUOUS)
                else f"'{sku}' is {'not sold' if not variants else 'ambiguous'} at the hub"
            )  # fmt: skip
            continue
        edits.append(LineEdit(sku, quantity, variant_id=variants[0]))
    hold = tuple(fo.id for fo in hub.to_hold)
    if hub.any_shipped or problems:
        why = "; ".join(problems) or f"the hub has started shipping {hub.name}"
        return FollowUp(
            Action.HOLD_FOR_REVIEW, key,
            f"edited at the retailer but the edit cannot be mirrored ({why}): the hub order "
            "is held; edit it by hand or ask the retailer, then release the hold",
            hold=hold, lines=_lines(hub), extra={"target": target},
        )  # fmt: skip
    return FollowUp(Action.EDIT, key, f"edited at the retailer before {hub.name} shipped",
                    edits=tuple(edits), extra={"target": target})  # fmt: skip


def matches_target(hub: HubOrder, target: Mapping[str, int]) -> bool:
    """The hub order ships exactly `target` (an edit committed, even if its response was
    lost)."""
    have: dict[str, int] = {}
    for line in hub.lines:
        if line.sku and line.current_quantity:
            have[line.sku] = have.get(line.sku, 0) + line.current_quantity
    return have == dict(target)
