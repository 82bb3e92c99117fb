"""Hub orders the hub cancelled itself, or gave up on without cancelling (its fulfillment
orders closed INCOMPLETE), FAULTS O15: told to the retailer, or carried back to the
retailer order when its registry entry says `on_hub_cancel: cancel_at_retailer`.

The fulfillments flow's first step sees the ending (`record_hub_cancellations`): with
`report`, the retailer's recipients get the order and its lines; with
`cancel_at_retailer`, a follow-up row is claimed, `waiting`. The flow's third step
(`carry_hub_cancellations`), after the push, carries each waiting row once every shipment
of the hub order is at the retailer, so the units still open at the hub location are
exactly those that never ship (`sync.hub_cancel_plan`):

    waiting  →  cancel the retailer order (poll the job)  |  remove the hub's units by an edit

Each write is preceded by the ledger's record of it and each retry starts from a fresh
read of the retailer order, so a lost response or a crash between begin and commit is
reconciled there, never repeated blind. The orders flow leaves such an order alone: the
cancel or edit at the retailer is ours, not a retailer change to follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flows.order_writes import OrderCancel, read_order, refused
from flows.steps import RetailerStep, StepReport
from resources.email_templates import OrderIssue
from resources.ledgers import follow_ups as ledger
from resources.ledgers.fulfillments import unpushed_shipments
from resources.ledgers.locks import store_lock
from resources.shopify.errors import ShopifyAmbiguousWriteError, ShopifyTransientError
from sync.hub_cancel_plan import (
    OrderState,
    RetailerAction,
    RetailerCancelPlan,
    never_shipping,
    plan_retailer_cancel,
)

CARRY_BACK = "cancel_at_retailer"
_IN_FLIGHT = {RetailerAction.CANCEL: "cancelling_at_retailer",
              RetailerAction.EDIT: "editing_at_retailer"}  # fmt: skip
_DONE = {"cancelling_at_retailer": "cancelled_at_retailer",
         "editing_at_retailer": "edited_at_retailer"}  # fmt: skip


def record_hub_cancellations(
    step: RetailerStep, ended: list[tuple[dict, dict]]
) -> tuple[list[OrderIssue], int]:
    """For each (hub order, link) the hub cancelled — not our follow-up of a retailer
    cancel — or gave up on (fulfillment orders closed INCOMPLETE, the order still open),
    tell the retailer (`report`) or claim its carry-back (`cancel_at_retailer`). Reported
    once per order (the alert key); claimed once (the ledger's key). Returns the reports
    and how many such orders the hub ended itself."""
    gids = [link["retailer_order_gid"] for _, link in ended]
    ours = ledger.cancelled_by_us(step.conn, step.key, gids)
    claimed = ledger.hub_cancels_carried(step.conn, step.key, gids)
    carry = step.retailer.on_hub_cancel == CARRY_BACK
    issues, seen = [], 0
    for node, link in ended:
        gid = link["retailer_order_gid"]
        if gid in ours:
            continue
        if carry and gid in claimed:  # claimed by an earlier run: no read needed
            seen += 1
            continue
        ending = _ending(step, node, link)
        if ending is None:  # what was left of it ships after all
            continue
        seen += 1
        if carry:
            ledger.claim(
                step.conn, retailer=step.key, order_gid=gid, change_key=ledger.HUB_CANCEL,
                action=ledger.HUB_CANCEL, state="waiting", hub_order_gid=node["id"],
                order_name=link["retailer_order_name"], target=None, run_id=step.run_id,
                detail=f"the hub {ending.what}",
            )  # fmt: skip
            continue
        issues.append(ending.issue(step.key, gid))
    return issues, seen


@dataclass(frozen=True)
class _Ending:
    """How the hub ended a hub order without shipping (all or part of) it."""

    kind: str  # the alert key's kind
    label: str
    what: str  # "cancelled #H1001 at … without shipping it"
    fix: str

    def issue(self, retailer: str, gid: str) -> OrderIssue:
        fix = f"The hub {self.what}: {self.fix.format(gid=gid)}"
        return OrderIssue(f"{self.kind}:order:{retailer}:{gid}", retailer, gid, self.label, fix)


def _ending(step: RetailerStep, node: dict, link: dict) -> _Ending | None:
    name = node.get("name") or node["id"]
    if node.get("cancelledAt"):
        lines = ", ".join(f"{line.get('sku')} x{line.get('quantity')}"
                          for line in link.get("hub_lines") or []) or "its lines"  # fmt: skip
        return _Ending(
            "hub_cancelled", "cancelled at the hub",
            f"cancelled {name} ({lines}) at {node['cancelledAt']} without shipping it",
            "the hub will not ship retailer order {gid}. Cancel or refund it at the "
            "retailer, or have it shipped another way.",
        )  # fmt: skip
    units = never_shipping(read_order(step.hub, node["id"]))
    if not units:
        return None
    lines = ", ".join(f"{sku} x{n}" for sku, n in sorted(units.items()))
    return _Ending(
        "hub_gave_up", "not shipped by the hub",
        f"closed {name} incomplete (at {node.get('updatedAt')}): {lines} will not ship",
        "the order stays open at the hub, but those units of retailer order {gid} will "
        "never ship from it. Refund them at the retailer, or have them shipped another way.",
    )  # fmt: skip


@dataclass
class CarryStats:
    by_state: dict[str, int] = field(default_factory=dict)
    issues: list[OrderIssue] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)

    def report(self) -> StepReport:
        counts = {f"hub_cancels_{k}": v for k, v in sorted(self.by_state.items())}
        counts["hub_cancels_pending"] = len(self.pending)
        return StepReport(counts=counts, issues=self.issues, pending=self.pending)


def carry_hub_cancellations(step: RetailerStep) -> StepReport:
    """Carry this retailer's waiting hub cancels back to their retailer orders."""
    return carry_stats(step).report()


def carry_stats(step: RetailerStep) -> CarryStats:
    stats = CarryStats()
    if not ledger.open_follow_ups(step.conn, step.key, action=ledger.HUB_CANCEL):
        return stats  # the common case: one indexed read, no lock
    with store_lock(step.conn, f"hub-cancels:{step.key}"):
        for row in ledger.open_follow_ups(step.conn, step.key, action=ledger.HUB_CANCEL):
            row = _carry(step, row, stats)
            if row is not None:
                stats.by_state[row.state] = stats.by_state.get(row.state, 0) + 1
    return stats


def _carry(step: RetailerStep, row: ledger.FollowUpRow, stats: CarryStats):
    name = row.retailer_order_name
    waiting = unpushed_shipments(step.conn, row.hub_order_gid)
    if waiting:
        stats.pending.append(f"{name}: {waiting} hub shipment(s) to push before the carry-back")
        return None
    try:
        order = read_order(step.client, row.retailer_order_gid, "retailer")
    except LookupError as exc:  # deleted at the retailer: nothing to carry back to
        row = ledger.advance(step.conn, row, "failed", last_error=str(exc), attempt=True)
        stats.issues.append(_issue(step, row))
        return row
    plan = plan_retailer_cancel(order, step.retailer.hub_location_id)
    try:
        row = _carry_out(step, row, plan, order)
    except ShopifyTransientError as exc:  # retries spent: this order waits for the next run
        row = _note_error(step, row, exc)
        stats.pending.append(f"{name}: {exc}")
        return row
    except ShopifyAmbiguousWriteError as exc:
        row = _note_error(step, row, exc, ambiguous_at=step.now)
        stats.pending.append(f"{name}: {row.state}, response lost; re-read next run")
        return row
    if row.done:
        stats.issues.append(_issue(step, row))
    elif row.state == "cancelling_at_retailer":
        stats.pending.append(f"{name}: the retailer's cancel job is still running")
    return row


def _note_error(step: RetailerStep, row: ledger.FollowUpRow, exc: Exception, **fields):
    """The error on the row as it stands now (the step in flight may be past `row`), so a
    lost write is the one marked and the state is never set back."""
    row = ledger.get(step.conn, row.retailer, row.retailer_order_gid, row.change_key) or row
    return ledger.advance(step.conn, row, row.state, last_error=str(exc), attempt=True, **fields)


def _carry_out(
    step: RetailerStep,
    row: ledger.FollowUpRow,
    plan: RetailerCancelPlan,
    order: OrderState,
) -> ledger.FollowUpRow:
    conn = step.conn
    if plan.action is RetailerAction.NONE:  # done: ours landed, or someone did it already
        state = _DONE.get(row.state) or (
            "cancelled_at_retailer" if order.cancelled else "edited_at_retailer"
        )
        return ledger.advance(conn, row, state, run_id=step.run_id)
    state = _IN_FLIGHT[plan.action]
    if row.state != state:  # the write begins: say what it takes off, for the alert
        base = row.detail.split("; ")[0]
        row = ledger.advance(conn, row, state, run_id=step.run_id, ambiguous_at=None,
                             detail=f"{base}; {plan.reason}: {plan.describe_lines()}")  # fmt: skip
    note = f"shopsync: the hub cancelled its order for {row.retailer_order_name} (retailer " \
           f"'{row.retailer}'): {plan.describe_lines()} will not ship"  # fmt: skip
    if plan.action is RetailerAction.CANCEL:
        cancel = OrderCancel(step.client, row.retailer_order_gid, note, state,
                             _DONE[state], refund=True, reason="INVENTORY",
                             store="retailer")  # fmt: skip
        return cancel(step, row)
    return _edit(step, row, plan, note)


def _edit(step: RetailerStep, row: ledger.FollowUpRow, plan: RetailerCancelPlan, note: str):
    """Begin, stage each line's new quantity, commit; then the retailer order is re-read.
    An edit abandoned before its commit changes nothing (a kill there is a plain retry)."""
    conn, client = step.conn, step.client
    begun = client.mutate("follow_ups_edit_begin", {"id": row.retailer_order_gid})
    if not begun.ok:
        return refused(conn, row, "edit", begun, "retailer")
    calculated = begun.payload["calculatedOrder"]
    by_line = {_legacy(n["id"]): n for n in calculated["lineItems"]["nodes"]}
    for line in plan.lines:
        staged_line = by_line.get(_legacy(line.line_id))
        if staged_line is None or staged_line.get("sku") != line.sku:
            return ledger.advance(conn, row, "failed", attempt=True,
                                  last_error=f"the edit shows no line {line.line_id}",
                                  detail=f"{row.detail}; the order edit did not show line "
                                         f"{line.sku or line.line_id}")  # fmt: skip
        staged = client.mutate(
            "follow_ups_edit_set_quantity",
            {"id": calculated["id"], "lineItemId": staged_line["id"], "quantity": line.quantity},
        )
        if not staged.ok:
            return refused(conn, row, "edit", staged, "retailer")
    committed = client.mutate("follow_ups_edit_commit", {"id": calculated["id"], "staffNote": note})
    if not committed.ok:
        return refused(conn, row, "edit", committed, "retailer")
    after = read_order(client, row.retailer_order_gid, "retailer")
    if plan_retailer_cancel(after, step.retailer.hub_location_id).action is RetailerAction.NONE:
        return ledger.advance(conn, row, "edited_at_retailer", run_id=step.run_id, attempt=True)
    return ledger.advance(conn, row, "editing_at_retailer", attempt=True,
                          last_error="committed, the retailer order not yet as asked")  # fmt: skip


def _legacy(gid: str) -> str:
    """A calculated line item shares its line item's numeric id (the GIDs' last part)."""
    return gid.rsplit("/", 1)[-1]


_SAID = {
    "cancelled_at_retailer": "not shipped by the hub, so cancelled at the retailer "
    "(restocked, refunded, the customer not emailed)",
    "edited_at_retailer": "not shipped by the hub, so its hub units were removed at the "
    "retailer (restocked, the customer not emailed)",
    "failed": "not shipped by the hub and could not be carried to the retailer: needs a person",
}
_FIX = {
    "cancelled_at_retailer": "Tell the customer the order will not come.",
    "edited_at_retailer": "Refund the removed lines to the customer at the retailer and tell "
    "them; the rest of the order stands.",
    "failed": "Cancel or refund the hub's lines at the retailer by hand.",
}


def _issue(step: RetailerStep, row: ledger.FollowUpRow) -> OrderIssue:
    fix = f"{row.detail[:1].upper()}{row.detail[1:]}. {_FIX[row.state]}"
    if row.last_error and row.state == "failed":
        fix += f" Shopify said: {row.last_error}"
    key = f"hub_cancel:{row.state}:{row.retailer}:{row.retailer_order_gid}"
    return OrderIssue(key, step.key, row.retailer_order_name, _SAID[row.state], fix)
