"""Bulk queries: start, poll with backoff, stream the JSONL, nest children under parents.

The state machine follows FACTS.md §3 and FAULTS.md P3: FAILED, CANCELED, EXPIRED, a
TIMEOUT error code, or COMPLETED without a file while objects were counted are errors,
never an empty success. OPERATION_IN_PROGRESS (one bulk query per shop until 2025-10) is
waited out, not cancelled: the other operation may be another run's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from resources.shopify.errors import ShopifyBulkOperationError, ShopifyQueryError

if TYPE_CHECKING:
    from resources.shopify.client import ShopifyClient

logger = logging.getLogger(__name__)

TERMINAL_FAILURES = {"FAILED", "CANCELED", "CANCELING", "EXPIRED"}


@dataclass(frozen=True)
class BulkSettings:
    poll_initial: float = 1.0
    poll_factor: float = 1.5
    poll_max: float = 30.0
    deadline_seconds: float = 6 * 3600.0
    start_attempts: int = 5
    run_attempts: int = 3  # a FAILED/TIMEOUT/no-file operation is started again, then raised


def gid_type(gid: str) -> str:
    """`gid://shopify/InventoryLevel/1?inventory_item_id=2` -> `InventoryLevel`."""
    return gid.split("/")[3].split("?")[0] if gid.startswith("gid://") else "children"


def nest_records(lines: Iterator[str], child_keys: dict[str, str]) -> list[dict[str, Any]]:
    """Rebuild the tree from JSONL: a `__parentId` line goes under its parent.

    Children follow their parent but not necessarily immediately (FACTS.md §3.2), so roots
    are only complete at the end of the file. The child list key is the GID type
    (`LineItem`) unless `child_keys` maps it to a field name (`{"LineItem": "lineItems"}`).
    """
    by_id: dict[str, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    orphans: list[tuple[str, dict[str, Any]]] = []
    for line in lines:
        if not line.strip():
            continue
        record = json.loads(line)
        if record.get("id"):
            by_id[record["id"]] = record
        parent_id = record.pop("__parentId", None)
        if parent_id is None:
            roots.append(record)
        else:
            orphans.append((parent_id, record))
    for parent_id, record in orphans:
        parent = by_id.get(parent_id)
        if parent is None:
            raise ValueError(f"bulk result line references unknown parent {parent_id}")
        key = child_keys.get(gid_type(record.get("id", "")), gid_type(record.get("id", "")))
        parent.setdefault(key, []).append(record)
    return roots


def run_bulk_query(
    client: ShopifyClient, inner_query: str, child_keys: dict[str, str], settings: BulkSettings
) -> Iterator[dict[str, Any]]:
    """Yield root records, each with its children nested; retries failed operations."""
    for attempt in range(1, settings.run_attempts + 1):
        try:
            records = _run_once(client, inner_query, child_keys, settings)
        except ShopifyBulkOperationError as exc:
            if attempt == settings.run_attempts or exc.code == "ACCESS_DENIED":
                raise
            logger.warning("store %s: %s; starting it again", client.store.key, exc.detail)
            continue
        yield from records
        return


def _run_once(
    client: ShopifyClient, inner_query: str, child_keys: dict[str, str], settings: BulkSettings
) -> list[dict[str, Any]]:
    operation = _start(client, inner_query, settings)
    finished = _wait(client, operation["id"], settings)
    url = finished.get("url")
    if not url:
        if str(finished.get("objectCount") or "0") == "0":
            logger.info("store %s: bulk query completed with no objects", client.store.key)
            return []
        _fail(client, finished, "completed without a result URL while objects were counted")
    return nest_records(client.transport.stream_lines(url), child_keys)


def _start(client: ShopifyClient, inner_query: str, settings: BulkSettings) -> dict[str, Any]:
    for attempt in range(settings.start_attempts):
        result = client.mutate("bulk_operation_run_query", {"query": inner_query})
        if result.ok:
            return result.payload["bulkOperation"]
        if "OPERATION_IN_PROGRESS" not in result.codes():
            messages = "; ".join(err.message for err in result.user_errors)
            raise ShopifyQueryError(
                f"bulk query rejected: {messages}",
                store=client.store.key,
                operation="bulk_operation_run_query",
                code=",".join(sorted(result.codes())) or "INVALID",
            )
        logger.info("store %s: another bulk query is running; waiting", client.store.key)
        current = client.execute("current_bulk_operation").get("currentBulkOperation")
        if current and current.get("id"):
            _wait(client, current["id"], settings, accept_failure=True)
        else:
            client.clock.sleep(settings.poll_initial * (attempt + 1))
    raise ShopifyBulkOperationError(
        f"could not start a bulk query after {settings.start_attempts} attempts",
        store=client.store.key,
        operation="bulk_operation_run_query",
        code="OPERATION_IN_PROGRESS",
    )


def _wait(
    client: ShopifyClient, operation_id: str, settings: BulkSettings, accept_failure: bool = False
) -> dict[str, Any]:
    clock = client.clock
    deadline = clock.monotonic() + settings.deadline_seconds
    delay = settings.poll_initial
    while True:
        node = client.execute("bulk_operation_status", {"id": operation_id}).get("node") or {}
        status = node.get("status")
        if status == "COMPLETED" and node.get("errorCode") is None:
            return node
        if status == "COMPLETED" or status in TERMINAL_FAILURES:
            if accept_failure:
                return node
            _fail(client, node, f"ended {status} (error code {node.get('errorCode')})")
        if clock.monotonic() + delay > deadline:
            _fail(client, node, "did not finish before the deadline")
        clock.sleep(delay)
        delay = min(settings.poll_max, delay * settings.poll_factor)


def _fail(client: ShopifyClient, node: dict[str, Any], reason: str):
    raise ShopifyBulkOperationError(
        f"bulk operation {node.get('id')} {reason}; partial data is not used",
        store=client.store.key,
        operation="bulk_operation_status",
        code=node.get("errorCode") or node.get("status"),
    )
