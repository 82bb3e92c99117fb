"""Order import, step three: carry retailer cancellations and edits of imported orders to
the hub before it ships (FAULTS O12–O14).

For each imported order landed by this run that changed at the retailer since import, and
each follow-up left unfinished by an earlier run, the hub order is read, planned against
(`sync.follow_up_plan`) and changed one step at a time, the ledger written before each
write (`resources.ledgers.follow_ups`):

    hold the hub's live fulfillment orders  →  cancel (poll the job)  |  edit  |  wait for a person

Every step starts from a fresh read of the hub order, so a retry after a lost response,
a timeout or a crash between hold and cancel sees what already happened there and does
only what is left. A write whose response was lost is never resent blind: the hub is
re-read first, and a cancel is given time to finish before it is sent again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flows.order_writes import OrderCancel, read_order, refused
from flows.orders import lookup_hub_variants
from flows.steps import RetailerStep, StepReport
from resources.email_templates import OrderIssue
from resources.ledgers import follow_ups as ledger
from resources.ledgers.locks import store_lock
from resources.shopify import ShopifyClient
from resources.shopify.errors import ShopifyAmbiguousWriteError
from sync.follow_up_plan import (
    HOLD_HANDLE,
    Action,
    FollowUp,
    HubOrder,
    change_key,
    matches_target,
    plan_cancel,
    plan_edit,
)
from sync.models import RetailerOrder
from sync.order_changes import ChangeKind, detect_post_import_changes


@dataclass
class FollowUpStats:
    seen: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    issues: list[OrderIssue] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)

    def report(self) -> StepReport:
        counts = {"follow_ups_seen": self.seen}
        counts.update({f"follow_ups_{k}": v for k, v in sorted(self.by_state.items())})
        return StepReport(counts=counts, issues=self.issues, pending=self.pending)


def follow_up_orders(step: RetailerStep) -> StepReport:
    """Carry this retailer's cancellations and edits of imported orders to the hub."""
    return follow_up_stats(step).report()


def follow_up_stats(step: RetailerStep) -> FollowUpStats:
    stats = FollowUpStats()
    with store_lock(step.conn, f"follow-ups:{step.key}"):
        for candidate in ledger.candidates(step.conn, step.key, step.run_id):
            stats.seen += 1
            row = _follow_up(step, candidate, stats)
            if row is not None:
                stats.by_state[row.state] = stats.by_state.get(row.state, 0) + 1
    return stats


def _follow_up(step: RetailerStep, candidate: ledger.Candidate, stats: FollowUpStats):
    order = RetailerOrder.from_graphql(candidate.raw)
    before = RetailerOrder.from_graphql(candidate.snapshot)
    location = step.retailer.hub_location_id
    changes = detect_post_import_changes(order, before, hub_location_id=location)
    cancelled = any(c.kind is ChangeKind.CANCELLED for c in changes)
    if not changes and not candidate.open_keys:
        return None
    if changes and not candidate.open_keys and change_key(order, location) in candidate.done_keys:
        return None  # this change was carried to the hub by an earlier run
    hub = read_order(step.hub, candidate.hub_order_gid)
    if not hub.routed:  # decided once the hub has its fulfillment orders: the next run
        stats.pending.append(f"{order.name}: {hub.name} not routed at the hub yet")
        return None
    if cancelled or order.cancelled_at:
        plan = plan_cancel(order, hub)
    else:
        variants = _variants_to_add(step, order, hub)
        plan = plan_edit(order, hub, location, variants, step.retailer.sku_matching)
        if plan is None:  # the hub already ships this: an open edit's commit had landed
            return _close_landed_edit(step, order, candidate, stats)
    row = ledger.claim(
        step.conn, retailer=step.key, order_gid=order.id, change_key=plan.key,
        action=str(plan.action), state=_first_state(plan), hub_order_gid=hub.id,
        order_name=order.name, detail=plan.reason, target=plan.extra.get("target"),
        run_id=step.run_id,
    )  # fmt: skip
    if row.done:
        return row
    try:
        row = _carry_out(step, row, plan, hub)
    except ShopifyAmbiguousWriteError as exc:
        # The step in flight is the row's state now (the hold may be behind it already):
        # re-read it, so the lost write is the one marked and not resent blind.
        row = ledger.get(step.conn, row.retailer, row.retailer_order_gid, row.change_key) or row
        row = ledger.advance(step.conn, row, row.state, ambiguous_at=step.now,
                             last_error=str(exc), attempt=True)  # fmt: skip
        stats.pending.append(f"{order.name}: {row.state}, response lost; re-read next run")
        return row
    if row.done:
        ledger.resolve_flags(step.conn, step.key, order.id)
        stats.issues.append(_issue(step, read_order(step.hub, hub.id), row))
    elif row.state == "cancelling":
        stats.pending.append(f"{order.name}: hub cancel of {hub.name} still running")
    return row


def _close_landed_edit(step: RetailerStep, order: RetailerOrder, candidate, stats):
    key = change_key(order, step.retailer.hub_location_id)
    if key not in candidate.open_keys:
        return None
    row = ledger.get(step.conn, step.key, order.id, key)
    row = ledger.advance(step.conn, row, "edited", run_id=step.run_id, ambiguous_at=None)
    ledger.resolve_flags(step.conn, step.key, order.id)
    stats.issues.append(_issue(step, read_order(step.hub, candidate.hub_order_gid), row))
    return row


def _first_state(plan: FollowUp) -> str:
    if plan.hold:
        return "holding"
    return {Action.CANCEL: "cancelling", Action.EDIT: "editing"}.get(plan.action, "holding")


def _variants_to_add(step: RetailerStep, order: RetailerOrder, hub: HubOrder) -> dict:
    """Hub SKU -> variant ids for SKUs the retailer order has and the hub order has not:
    exactly, and in their trimmed and re-cased forms, so a line added with a SKU that
    matches only once normalised is found when the retailer opted in (O11) and reported
    with exactly what differs when not."""
    on_hub = {line.sku for line in hub.lines if line.current_quantity}
    wanted = {line.sku for line in order.lines if line.sku and line.current_quantity} - on_hub
    found = lookup_hub_variants(step.hub, sorted(wanted))
    return {sku: [v["id"] for v in variants] for sku, variants in found.items() if variants}


def _carry_out(step: RetailerStep, row: ledger.FollowUpRow, plan: FollowUp, hub: HubOrder):
    """Hold, then the plan's action; each write preceded by the ledger's claim of it."""
    conn = step.conn
    if plan.done:
        return ledger.advance(conn, row, _done_state(plan), run_id=step.run_id)
    for fo_id in plan.hold:
        result = step.hub.mutate("follow_ups_hold", {"id": fo_id, "hold": {
            "reason": "OTHER", "handle": HOLD_HANDLE, "externalId": row.retailer_order_gid,
            "notifyMerchant": False,
            "reasonNotes": f"shopsync: retailer '{row.retailer}' {plan.reason}"[:250],
        }})  # fmt: skip
        if not result.ok and not _already_held(step.hub, hub.id, fo_id):
            return refused(conn, row, "hold", result)
    if plan.action is Action.HOLD_FOR_REVIEW:
        return ledger.advance(conn, row, "held_for_review", run_id=step.run_id, detail=plan.reason)
    if plan.action is Action.CANCEL:
        note = f"shopsync: cancelled at retailer '{row.retailer}' ({row.retailer_order_name}, " \
               f"{row.retailer_order_gid})"  # fmt: skip
        cancel = OrderCancel(step.hub, row.hub_order_gid, note, "cancelling", "cancelled")
        return cancel(step, _enter(step, row, "cancelling"))
    return _edit(step, _enter(step, row, "editing"), plan)


def _enter(step: RetailerStep, row: ledger.FollowUpRow, state: str) -> ledger.FollowUpRow:
    """The next step begins: a lost response of the one before (a hold the fresh read has
    now seen) no longer stands for this step's write."""
    if row.state == state:
        return ledger.advance(step.conn, row, state, run_id=step.run_id)
    return ledger.advance(step.conn, row, state, run_id=step.run_id, ambiguous_at=None)


def _done_state(plan: FollowUp) -> str:
    return {Action.CANCEL: "cancelled", Action.EDIT: "edited"}.get(plan.action, "held_for_review")


def _already_held(hub: ShopifyClient, order_gid: str, fo_id: str) -> bool:
    """A hold refused because it is there already (our earlier, lost response)."""
    fresh = read_order(hub, order_gid)
    return any(fo.id == fo_id and fo.held_by_us for fo in fresh.fulfillment_orders)


def _edit(step: RetailerStep, row: ledger.FollowUpRow, plan: FollowUp) -> ledger.FollowUpRow:
    conn, hub = step.conn, step.hub
    target = row.target or dict(plan.extra.get("target") or {})
    if matches_target(read_order(hub, row.hub_order_gid), target):
        return ledger.advance(conn, row, "edited", run_id=step.run_id)  # a lost commit landed
    begun = hub.mutate("follow_ups_edit_begin", {"id": row.hub_order_gid})
    if not begun.ok:
        return refused(conn, row, "edit", begun)
    calculated = begun.payload["calculatedOrder"]
    by_sku = {n.get("sku"): n["id"] for n in calculated["lineItems"]["nodes"]}
    for edit in plan.edits:
        if edit.line_id is not None:
            staged = hub.mutate(
                "follow_ups_edit_set_quantity",
                {"id": calculated["id"], "lineItemId": by_sku[edit.sku], "quantity": edit.quantity},
            )
        else:
            staged = hub.mutate(
                "follow_ups_edit_add_variant",
                {
                    "id": calculated["id"],
                    "variantId": edit.variant_id,
                    "locationId": step.settings.hub.location_id,
                    "quantity": edit.quantity,
                },
            )
        if not staged.ok:
            return refused(conn, row, "edit", staged)  # fmt: skip
    note = f"shopsync: edited at retailer '{row.retailer}' ({row.retailer_order_name})"
    committed = hub.mutate("follow_ups_edit_commit", {"id": calculated["id"], "staffNote": note})
    if not committed.ok:
        return refused(conn, row, "edit", committed)
    if matches_target(read_order(hub, row.hub_order_gid), target):
        return ledger.advance(conn, row, "edited", run_id=step.run_id, attempt=True)
    return ledger.advance(conn, row, "editing", last_error="committed, hub not yet as asked",
                          attempt=True)  # fmt: skip


_SAID = {
    "cancelled": "cancelled at the hub (restocked, no customer email): nothing will ship",
    "edited": "edited at the hub to match the retailer order",
    "held_for_review": "held at the hub: needs a person",
    "failed": "could not be carried to the hub: needs a person",
}


def _issue(step: RetailerStep, hub: HubOrder, row: ledger.FollowUpRow) -> OrderIssue:
    lines = ", ".join(f"{sku} shipped {s}, unshipped {u}" for sku, s, u in
                      ((x.sku or x.id, hub.shipped(x.id), hub.unshipped(x.id))
                       for x in hub.lines if x.current_quantity))  # fmt: skip
    fix = f"{row.detail}. Hub order {hub.name}: {lines or 'no lines'}."
    if row.last_error and row.state == "failed":
        fix += f" Shopify said: {row.last_error}"
    key = f"follow_up:{row.state}:{row.retailer}:{row.retailer_order_gid}:{row.change_key}"
    return OrderIssue(key, step.key, row.retailer_order_name, _SAID[row.state], fix)
