"""The exception queue's rules: which records need a person, what the fix is, how long
they have waited, which partition to re-run, and when one escalates.

An *exception* is a record the flows cannot finish on their own: a quarantined or held
retailer order, an order changed at the retailer after import, a hub order Shopify
refused, a shipment that cannot be pushed, a SKU whose stock cannot be synced. Each
becomes one `ExceptionItem` with a stable key (the same key the first alert claimed, so
an item is recognisable in the outbox), one sentence of fix, and the partition whose
re-run re-evaluates it. Outcomes that need nobody (an order cancelled before import,
a payment voided, a hub shipment cancelled at the hub) are settled, not exceptions.

Pure: rows in, items out. The SQL that reads the rows is `resources/ledgers/exceptions.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from sync.inventory import ATTENTION, fix_for

#: The hourly partitions' key format (`assets.partitions.HOUR_FORMAT`; a unit test holds
#: them equal, sync cannot import the asset layer).
HOUR_FORMAT = "%Y-%m-%d-%H:%M"
RETRY_JOB = "retry_exceptions_job"


class ExceptionKind(StrEnum):
    QUARANTINED = "quarantined"  # classified quarantined: the order is held whole
    HELD = "held"  # its hub-location fulfillment order is on hold at the retailer
    CANCELLED_AFTER_IMPORT = "cancelled_after_import"
    EDITED_AFTER_IMPORT = "edited_after_import"
    REFUSED = "refused"  # orderCreate answered with user errors: never retried by itself
    TERMINAL_SHIPMENT = "terminal_shipment"  # a hub shipment that cannot be pushed
    INVENTORY_MISMATCH = "inventory_mismatch"  # a SKU not synced until someone fixes it
    HELD_FOR_REVIEW = "held_for_review"  # changed at the retailer, held at the hub for a person
    FOLLOW_UP_FAILED = "follow_up_failed"  # Shopify refused to hold, cancel or edit the hub order
    REFUNDED_AFTER_IMPORT = "refunded_after_import"  # money went back at the retailer
    RETURNED_AFTER_IMPORT = "returned_after_import"  # a return opened at the retailer


#: Quarantine and terminal reasons that are settled outcomes: nobody has anything to do.
QUARANTINE_NEEDS_NO_ONE = frozenset({"cancelled", "payment_void"})
TERMINAL_NEEDS_NO_ONE = frozenset({"hub_fulfillment_cancelled"})
#: Waiting reasons a person must lift (a hold at the retailer); unpaid and the hold window
#: pass by themselves.
HELD_REASONS = frozenset({"on_hold"})
MISMATCH_KINDS = frozenset(str(k) for k in ATTENTION)

#: The flow whose partition re-evaluates an item of each kind.
FLOW_OF = {
    ExceptionKind.TERMINAL_SHIPMENT: "fulfillments",
    ExceptionKind.INVENTORY_MISMATCH: "inventory",
}
#: Kinds `retry_exceptions_job` re-runs (the others need a person outside shopsync).
RETRYABLE = frozenset(
    {
        ExceptionKind.QUARANTINED,
        ExceptionKind.HELD,
        ExceptionKind.REFUSED,
        ExceptionKind.TERMINAL_SHIPMENT,
    }
)

_RESOLVE = f"then resolve this item ({RETRY_JOB} with its key in `resolve`)"
_RETRY = f"then run {RETRY_JOB}"
QUARANTINE_FIXES = {
    "nothing_to_ship": "Check the order at the retailer: if the hub must still ship it, "
    "reopen its fulfillment order at the hub location and re-run the partition, "
    f"otherwise {_RESOLVE.removeprefix('then ')}.",
}
TERMINAL_FIXES = {
    "order_cancelled": "The retailer cancelled the order the hub shipped: settle the "
    f"parcel with the retailer (return or charge), {_RESOLVE}.",
    "fo_on_hold": "Release the hold on the retailer's fulfillment order at the hub "
    f"location, {_RETRY}.",
    "fo_moved": f"Move the retailer's fulfillment order back to the hub location, {_RETRY}.",
    "fo_closed": "The retailer closed the fulfillment order: enter the hub's tracking on "
    f"the order at the retailer by hand, {_RESOLVE}.",
    "fo_cancelled": "The retailer cancelled the fulfillment order: enter the hub's "
    f"tracking on the order at the retailer by hand, {_RESOLVE}.",
    "already_fulfilled": "The retailer already shows these units fulfilled: check for a "
    f"double shipment, {_RESOLVE}.",
    "over_fulfilment": "The hub shipped more than the retailer order has left: check the "
    f"shipment against the order, {_RESOLVE}.",
    "hub_line_without_sku": f"Give the hub variant the SKU the retailer sells, {_RETRY}.",
    "nothing_shipped": f"The hub shipment has no lines: check it in the hub store, {_RESOLVE}.",
}


@dataclass(frozen=True)
class ExceptionRow:
    """One record as read from the warehouse (see `resources.ledgers.exceptions`).

    `subject` is what the item is about: the retailer order GID, the hub fulfillment GID,
    or the SKU of an inventory mismatch. `since` is when it started waiting (first seen,
    flagged or claimed); `record_at` the `updated_at` whose hour is its partition."""

    kind: str
    retailer: str
    subject: str
    order_name: str | None
    reason: str
    detail: str
    since: datetime
    record_at: datetime | None = None
    order_gid: str | None = None
    hub_order_name: str | None = None


@dataclass(frozen=True)
class ExceptionItem:
    key: str
    kind: str
    retailer: str
    order: str  # the order's name, or "SKU …" for an inventory mismatch
    reason: str
    fix: str
    waiting_since: datetime
    wait_hours: float
    flow: str
    hour: datetime | None  # the partition's hour (None: partitioned by retailer only)
    partition: str | None  # the key to re-run (None: before the first partition)
    subject: str
    escalated: bool = False

    @property
    def rerun(self) -> str:
        """`flow: partition`, or what to do when there is no partition to re-run."""
        return f"{self.flow}: {self.partition}" if self.partition else f"{self.flow}: {RETRY_JOB}"


def item_key(row: ExceptionRow) -> str:
    """The item's stable key: for orders and shipments the key their first alert claimed."""
    kind = row.kind
    if kind == ExceptionKind.QUARANTINED:
        return f"quarantined:order:{row.retailer}:{row.subject}:{row.reason}"
    if kind == ExceptionKind.HELD:
        return f"held:order:{row.retailer}:{row.subject}"
    if kind == ExceptionKind.REFUSED:
        return f"refused:order:{row.retailer}:{row.subject}"
    if kind == ExceptionKind.TERMINAL_SHIPMENT:
        return f"terminal:fulfillment:{row.subject}"
    if kind == ExceptionKind.INVENTORY_MISMATCH:
        return f"mismatch:{row.retailer}:{row.subject}:{row.reason}"
    return f"{kind}:order:{row.retailer}:{row.subject}"  # the post-import flags


def needs_a_person(row: ExceptionRow) -> bool:
    """False for settled outcomes (see the module doc) and SKUs that are fine as they are."""
    if row.kind == ExceptionKind.QUARANTINED:
        return row.reason not in QUARANTINE_NEEDS_NO_ONE
    if row.kind == ExceptionKind.HELD:
        return row.reason in HELD_REASONS
    if row.kind == ExceptionKind.TERMINAL_SHIPMENT:
        return row.reason not in TERMINAL_NEEDS_NO_ONE
    if row.kind == ExceptionKind.INVENTORY_MISMATCH:
        return row.reason in MISMATCH_KINDS
    return True


def strip_who(text: str, retailer: str, name: str | None, gid: str | None) -> str:
    """`text` without its leading "retailer 'x'" and "order N (gid)": the queue's columns
    already say both, and the rest reads as the reason and the fix."""
    for who in (f"retailer '{retailer}'", f"order {name} ({gid})" if name and gid else None):
        if who and text.startswith(who):
            text = text[len(who) :].removeprefix(":").lstrip()
    return text


def fix_of(row: ExceptionRow) -> str:
    """One sentence an operator can act on."""
    detail = strip_who(row.detail or "", row.retailer, row.order_name, row.order_gid)
    hub = f"hub order {row.hub_order_name}" if row.hub_order_name else "the hub order"
    kind = row.kind
    if kind == ExceptionKind.QUARANTINED:
        return QUARANTINE_FIXES.get(row.reason) or _sentence(detail or row.reason)
    if kind == ExceptionKind.HELD:
        return (
            f"Release the hold at the retailer ({detail.rstrip('.')}); the next orders run "
            "imports the order."
        )
    if kind == ExceptionKind.REFUSED:
        refused = detail.removesuffix("; fix and re-run")
        return _sentence(
            f"{refused}: fix that at the hub, {_RETRY} (re-running the partition does not "
            "retry a refused order)"
        )
    if kind == ExceptionKind.CANCELLED_AFTER_IMPORT:
        return f"Cancel or hold {hub} in the hub store so it never ships, {_RESOLVE}."
    if kind == ExceptionKind.EDITED_AFTER_IMPORT:
        return _sentence(f"Edit or hold {hub} to match the retailer ({detail}), {_RESOLVE}")
    if kind in (ExceptionKind.HELD_FOR_REVIEW, ExceptionKind.RETURNED_AFTER_IMPORT):
        return _sentence(f"{detail} ({hub}), {_RESOLVE}")
    if kind == ExceptionKind.REFUNDED_AFTER_IMPORT:
        return _sentence(
            f"{detail} after the hub order was made: settle the shipped goods or the return "
            f"with the retailer (nothing is pushed for a refund), {_RESOLVE}"
        )
    if kind == ExceptionKind.FOLLOW_UP_FAILED:
        return _sentence(f"{detail}: hold, cancel or edit {hub} by hand, {_RESOLVE}")
    if kind == ExceptionKind.TERMINAL_SHIPMENT:
        if row.reason in TERMINAL_FIXES:
            return TERMINAL_FIXES[row.reason]
        return _sentence(f"{detail or row.reason}: fix the cause at the retailer, {_RETRY}")
    if kind == ExceptionKind.INVENTORY_MISMATCH:
        return _sentence(f"{fix_for(row.reason)}; the next inventory run checks it again")
    return _sentence(f"{detail or row.reason}: handle it, {_RESOLVE}")


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return (text[:1].upper() + text[1:] + ".") if text else ""


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def hour_partition_key(retailer: str, hour: datetime) -> str:
    """The `hour|retailer` key of an hourly flow partition (dimensions in name order)."""
    return f"{hour:{HOUR_FORMAT}}|{retailer}"


def build_items(
    rows: Iterable[ExceptionRow],
    now: datetime,
    partitions_start: date | None = None,
    escalated: Iterable[str] = (),
    resolved: Iterable[str] = (),
) -> list[ExceptionItem]:
    """The queue: rows that need a person and are not `resolved` (item keys), oldest
    first. An hourly partition before `partitions_start` does not exist: such an item's
    partition is None (re-evaluate it with the retry job instead)."""
    escalated, resolved = set(escalated), set(resolved)
    items = []
    for row in rows:
        key = item_key(row)
        if not needs_a_person(row) or key in resolved:
            continue
        flow = FLOW_OF.get(row.kind, "orders")
        hour = hour_of(row.record_at) if row.record_at and flow != "inventory" else None
        if flow == "inventory":
            partition: str | None = row.retailer
        elif hour is None or (partitions_start and hour.date() < partitions_start):
            partition = None
        else:
            partition = hour_partition_key(row.retailer, hour)
        items.append(
            ExceptionItem(
                key=key,
                kind=str(row.kind),
                retailer=row.retailer,
                order=f"SKU {row.subject}" if flow == "inventory" else row.order_name or "?",
                reason=row.reason,
                fix=fix_of(row),
                waiting_since=row.since,
                wait_hours=round(max(0.0, (now - row.since).total_seconds()) / 3600, 2),
                flow=flow,
                hour=hour,
                partition=partition,
                subject=row.subject,
                escalated=key in escalated,
            )
        )
    return sorted(items, key=lambda i: (i.waiting_since, i.key))


def due_for_escalation(
    items: Sequence[ExceptionItem], now: datetime, escalate_after: timedelta
) -> list[ExceptionItem]:
    """Items waiting longer than `escalate_after` that have not escalated yet."""
    return [i for i in items if not i.escalated and now - i.waiting_since > escalate_after]


def counts(items: Sequence[ExceptionItem], retailers: Iterable[str] = ()) -> dict[str, object]:
    """Totals for metadata and summaries: every known kind and every given retailer is
    present (0 included), so a plot over time has no gaps."""
    by_kind = {str(k): 0 for k in ExceptionKind}
    by_retailer = dict.fromkeys(retailers, 0)
    for item in items:
        by_kind[item.kind] = by_kind.get(item.kind, 0) + 1
        by_retailer[item.retailer] = by_retailer.get(item.retailer, 0) + 1
    return {
        "total": len(items),
        "by_kind": by_kind,
        "by_retailer": by_retailer,
        "oldest_wait_hours": max((i.wait_hours for i in items), default=0.0),
        "escalated": sum(1 for i in items if i.escalated),
    }


def retry_windows(items: Iterable[ExceptionItem]) -> dict[str, dict[str, list[tuple]]]:
    """flow -> retailer -> merged [start, end) hour windows of the retryable items: the
    runs `retry_exceptions_job` makes (each window is a partition's, re-run as is)."""
    hours: dict[str, dict[str, set[datetime]]] = {}
    for item in items:
        if item.kind in RETRYABLE and item.hour is not None:
            hours.setdefault(item.flow, {}).setdefault(item.retailer, set()).add(item.hour)
    return {
        flow: {retailer: merge_hours(found) for retailer, found in by_retailer.items()}
        for flow, by_retailer in hours.items()
    }


def merge_hours(hours: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start in sorted(set(hours)):
        end = start + timedelta(hours=1)
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


TABLE_COLUMNS = ("Retailer", "Order", "Kind", "Reason", "Fix", "Waiting", "Re-run", "Key")


def format_wait(hours: float) -> str:
    """`45 min`, `5 h 30 min`, `3 d 2 h`: how an operator reads a wait."""
    minutes = round(hours * 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes // (24 * 60)} d {minutes % (24 * 60) // 60} h"


def table_rows(items: Iterable[ExceptionItem]) -> list[tuple]:
    """Rows for `TABLE_COLUMNS` (escape them where they are rendered)."""
    return [
        (
            i.retailer,
            i.order,
            i.kind + (" (escalated)" if i.escalated else ""),
            i.reason,
            i.fix,
            format_wait(i.wait_hours),
            i.rerun,
            i.key,
        )
        for i in items
    ]


def with_text(item: ExceptionItem, clean) -> ExceptionItem:
    """`item` with `clean` (a redactor) applied to its store-supplied text."""
    return replace(item, order=clean(item.order), reason=clean(item.reason), fix=clean(item.fix))
