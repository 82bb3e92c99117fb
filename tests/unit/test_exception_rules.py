"""The exception queue's pure rules (sync/exceptions.py), its markdown and its email."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from assets.exceptions import queue_markdown
from assets.partitions import HOUR_FORMAT, partition_key
from flows.exceptions import escalation_email
from sync import exceptions as rules
from sync.exceptions import ExceptionKind, ExceptionRow, build_items

NOW = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
R = "epic-gardening"
GID = "gid://shopify/Order/1001"


def row(kind: str, reason: str, detail: str = "", **kw) -> ExceptionRow:
    base = dict(
        kind=kind, retailer=R, subject=GID, order_name="#1001", reason=reason, detail=detail,
        since=NOW - timedelta(hours=5, minutes=30), record_at=NOW - timedelta(hours=6, minutes=50),
        order_gid=GID,
    )  # fmt: skip
    return ExceptionRow(**{**base, **kw})


def one(r: ExceptionRow, **kw) -> rules.ExceptionItem:
    (item,) = build_items([r], NOW, **kw)
    return item


def test_quarantine_fix_is_its_message_without_who_and_partition_is_its_hour():
    message = (
        f"retailer '{R}' order #1001 ({GID}): whole order held; SKU 'X-1' not sold by the hub: "
        "add to the hub catalogue or remap at the retailer, then re-run the order's partition"
    )
    item = one(row("quarantined", "sku_unknown", message))
    assert item.fix.startswith("Whole order held; SKU 'X-1' not sold by the hub")
    assert item.fix.endswith("then re-run the order's partition.")
    assert R not in item.fix and GID not in item.fix
    assert item.key == f"quarantined:order:{R}:{GID}:sku_unknown"
    assert item.wait_hours == 5.5
    assert (item.flow, item.partition) == ("orders", f"2026-03-02-08:00|{R}")
    assert item.rerun == f"orders: 2026-03-02-08:00|{R}"


def test_partition_key_is_the_one_dagster_uses():
    hour = datetime(2026, 3, 2, 8, tzinfo=UTC)
    assert rules.HOUR_FORMAT == HOUR_FORMAT
    assert rules.hour_partition_key(R, hour) == str(partition_key(R, hour))


def test_no_partition_before_the_first_one_and_inventory_partition_is_the_retailer():
    early = one(row("quarantined", "sku_unknown"), partitions_start=date(2026, 3, 3))
    assert early.partition is None and early.rerun == "orders: retry_exceptions_job"
    sku = one(row("inventory_mismatch", "not_stocked", subject="SKU-9", order_name=None))
    assert (sku.flow, sku.partition, sku.order, sku.hour) == ("inventory", R, "SKU SKU-9", None)
    assert sku.fix.startswith("Stock the item at the retailer's hub location")
    assert sku.fix.endswith("the next inventory run checks it again.")


def test_settled_outcomes_and_passing_states_are_not_exceptions():
    settled = [
        row("quarantined", "cancelled"),
        row("quarantined", "payment_void"),
        row("held", "unpaid"),
        row("held", "hold_window"),
        row("terminal_shipment", "hub_fulfillment_cancelled", subject="gid://F/1"),
        row("inventory_mismatch", "only_at_hub", subject="S"),
        row("inventory_mismatch", "negative_at_hub", subject="S"),
    ]
    assert build_items(settled, NOW) == []


def test_every_kind_has_a_key_and_an_actionable_fix():
    refused = (
        f"retailer '{R}' order #1001 ({GID}): the hub refused the order: Variant does not "
        "exist.; fix and re-run"
    )
    edited = f"retailer '{R}': order #1001 ({GID}): line 'A' (was 2) changed to 1 after import"
    cases = {
        "held": row("held", "on_hold", f"retailer '{R}' order #1001 ({GID}): FO 7 is on hold"),
        "refused": row("refused", "hub_refused", refused),
        "cancelled": row("cancelled_after_import", "cancelled_after_import", "x",
                         hub_order_name="#H55"),
        "edited": row("edited_after_import", "edited_after_import", edited, hub_order_name="#H56"),
        "terminal": row("terminal_shipment", "fo_on_hold", "m", subject="gid://F/2"),
        "rejected": row("terminal_shipment", "rejected", f"retailer '{R}': refused by store",
                        subject="gid://F/3"),
    }  # fmt: skip
    items = {name: one(r) for name, r in cases.items()}
    assert items["held"].fix.startswith("Release the hold at the retailer (FO 7 is on hold)")
    assert "Variant does not exist" in items["refused"].fix
    assert "retry_exceptions_job" in items["refused"].fix
    assert "fix and re-run" not in items["refused"].fix
    assert "hub order #H55" in items["cancelled"].fix and "resolve" in items["cancelled"].fix
    assert "hub order #H56" in items["edited"].fix and "changed to 1" in items["edited"].fix
    assert items["terminal"].fix.startswith("Release the hold on the retailer's fulfillment")
    assert items["terminal"].flow == "fulfillments"
    assert items["rejected"].fix.startswith("Refused by store: fix the cause at the retailer")
    keys = {name: i.key for name, i in items.items()}
    assert keys == {
        "held": f"held:order:{R}:{GID}", "refused": f"refused:order:{R}:{GID}",
        "cancelled": f"cancelled_after_import:order:{R}:{GID}",
        "edited": f"edited_after_import:order:{R}:{GID}",
        "terminal": "terminal:fulfillment:gid://F/2", "rejected": "terminal:fulfillment:gid://F/3",
    }  # fmt: skip
    assert all(i.fix.endswith(".") and i.fix[0].isupper() for i in items.values())


def test_resolved_items_drop_out_and_escalated_ones_are_marked():
    a, b = row("quarantined", "sku_unknown"), row("held", "on_hold", subject="gid://O/2")
    key_a, key_b = rules.item_key(a), rules.item_key(b)
    items = build_items([a, b], NOW, resolved=[key_a], escalated=[key_b])
    assert [(i.key, i.escalated) for i in items] == [(key_b, True)]


def test_escalation_is_due_only_after_the_threshold_and_only_once():
    item = one(row("quarantined", "sku_unknown", since=NOW - timedelta(hours=4)))
    after = timedelta(hours=4)
    assert rules.due_for_escalation([item], NOW, after) == []  # exactly 4 h: not longer
    assert rules.due_for_escalation([item], NOW + timedelta(seconds=1), after) == [item]
    marked = one(row("quarantined", "sku_unknown", since=NOW - timedelta(hours=9)),
                 escalated=[item.key])  # fmt: skip
    assert rules.due_for_escalation([marked], NOW, after) == []


def test_counts_cover_every_kind_and_retailer_with_zeros():
    items = build_items(
        [row("quarantined", "sku_unknown"), row("held", "on_hold", since=NOW - timedelta(hours=9))],
        NOW,
    )
    figures = rules.counts(items, [R, "nationwide-plants"])
    assert figures["total"] == 2 and figures["oldest_wait_hours"] == 9.0
    assert figures["by_retailer"] == {R: 2, "nationwide-plants": 0}
    assert set(figures["by_kind"]) == {str(k) for k in ExceptionKind}
    assert figures["by_kind"]["quarantined"] == 1 and figures["by_kind"]["refused"] == 0


def test_waits_read_as_minutes_hours_or_days():
    assert [rules.format_wait(h) for h in (0.25, 5.5, 47.99, 74.5)] == [
        "15 min", "5 h 30 min", "47 h 59 min", "3 d 2 h",
    ]  # fmt: skip


def test_retry_windows_merge_contiguous_hours_per_flow_and_retailer():
    at = [datetime(2026, 3, 2, h, 20, tzinfo=UTC) for h in (8, 9, 11)]
    rows = [
        row("quarantined", "sku_unknown", subject=f"gid://O/{i}", record_at=t)
        for i, t in enumerate(at)
    ]
    rows.append(row("terminal_shipment", "fo_on_hold", subject="gid://F/1", record_at=at[0]))
    rows.append(row("cancelled_after_import", "cancelled_after_import", subject="gid://O/9"))
    windows = rules.retry_windows(build_items(rows, NOW))
    h = lambda n: datetime(2026, 3, 2, n, tzinfo=UTC)  # noqa: E731
    assert windows["orders"] == {R: [(h(8), h(10)), (h(11), h(12))]}
    assert windows["fulfillments"] == {R: [(h(8), h(9))]}


def _cells(line: str) -> list[str]:
    """The cells of a markdown table row: split on `|` not preceded by a backslash."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def test_queue_markdown_escapes_store_text():
    hostile = row(
        "quarantined", "sku|unknown", "<script>alert(1)</script> | [x](javascript:evil)",
        order_name="<script>alert('x')</script>",
    )  # fmt: skip
    text = queue_markdown(build_items([hostile], NOW))
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "](javascript" not in text
    header, _, body = text.splitlines()
    assert len(_cells(body)) == len(_cells(header)) == len(rules.TABLE_COLUMNS)
    assert "sku\\|unknown" in _cells(body)[3]
    assert _cells(body)[5] == "5 h 30 min"
    assert queue_markdown([]).startswith("No exceptions")


def test_escalation_email_escapes_html_and_keeps_text_readable():
    items = build_items([row("quarantined", "sku_unknown", "x", order_name="<b>#1</b>\r\nBcc: a")],
                        NOW)  # fmt: skip
    mail = escalation_email(items, 4.0, "http://ui.example:3000/")
    assert mail.subject == "[shopsync] 1 exception waiting over 4 h"
    assert "<b>#1</b>" not in mail.html and "&lt;b&gt;#1&lt;/b&gt;" in mail.html
    assert "http://ui.example:3000/assets/exception_queue" in mail.html
    assert "<b>#1</b>" in mail.text and "\r" not in mail.text
    assert items[0].key in mail.text


def test_a_return_after_import_says_what_happened_and_names_the_hub_order():
    detail = (
        f"retailer '{R}': order #1001 ({GID}): a return was opened after import (return "
        "requested); settle the returned goods with the hub, nothing is pushed for a return"
    )
    item = one(row("returned_after_import", "returned_after_import", detail,
                   hub_order_name="#H7"))  # fmt: skip
    assert item.fix.startswith("A return was opened after import (return requested); settle")
    assert "(hub order #H7)" in item.fix and "resolve this item" in item.fix
    assert item.key == f"returned_after_import:order:{R}:{GID}"
    assert ExceptionKind.RETURNED_AFTER_IMPORT not in rules.RETRYABLE  # a person settles it
