"""Bulk query operations: ``bulkOperationRunQuery``, polling, and the JSONL result file.

The query runs against a snapshot at submission (under the store lock) with page sizes
ignored; the operation reports RUNNING until ``bulk_delay_seconds`` have passed, then
COMPLETED with a URL under the simulator's base. JSONL follows Shopify: one line per node,
nested connection nodes on their own lines with ``__parentId`` (FACTS.md §3.2).
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo, execute, parse, validate

from simulator.context import ctx
from simulator.models import BulkOperation
from simulator.resolver_table import default_resolver, resolves

BULK_DELAY_SECONDS = 0.3


def _is_connection(value: Any) -> bool:
    return isinstance(value, dict) and ("edges" in value or "nodes" in value)


def _nodes(conn: dict[str, Any]) -> list[Any]:
    if "nodes" in conn:
        return conn["nodes"]
    return [e.get("node") for e in conn.get("edges") or []]


def flatten(data: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """JSONL rows for a bulk result, and the number of root objects."""
    rows: list[dict[str, Any]] = []
    roots = 0

    def emit(node: dict[str, Any], parent: str | None) -> None:
        line = {k: v for k, v in node.items() if not _is_connection(v)}
        if parent is not None:
            line["__parentId"] = parent
        rows.append(line)
        for value in node.values():
            if _is_connection(value):
                for child in _nodes(value):
                    if child is not None:
                        emit(child, node.get("id"))

    for value in data.values():
        if _is_connection(value):
            for node in _nodes(value):
                if node is not None:
                    roots += 1
                    emit(node, None)
    return rows, roots


class BulkRunner:
    def __init__(self, sim: Any) -> None:
        self.sim = sim

    def file(self, domain: str, number: int) -> bytes | None:
        store = self.sim.stores.get(domain)
        op = store.nodes.get(f"gid://shopify/BulkOperation/{number}") if store else None
        return op.payload if isinstance(op, BulkOperation) and op.url else None

    def refresh(self, op: BulkOperation) -> BulkOperation:
        if op.status == "RUNNING" and time.time() >= op.ready_at:
            op.status = "COMPLETED" if op.error_code is None else "FAILED"
            op.completed_at = ctx_now()
        return op


def ctx_now() -> Any:
    from simulator.store import utcnow

    return utcnow()


def _invalid(message: str) -> dict[str, Any]:
    return {
        "bulkOperation": None,
        "userErrors": [{"field": ["query"], "message": message, "code": "INVALID"}],
    }


@resolves("Mutation", "bulkOperationRunQuery")
def bulk_operation_run_query(_root: Any, info: GraphQLResolveInfo, query: str) -> dict[str, Any]:
    context = ctx(info)
    store = context.store
    runner = context.bulk_runner
    running = [runner.refresh(op) for op in store.bulk_operations.values()]
    if sum(op.status == "RUNNING" for op in running) >= context.features.bulk_concurrency:
        return {
            "bulkOperation": None,
            "userErrors": [
                {
                    "field": None,
                    "code": "OPERATION_IN_PROGRESS",
                    "message": "A bulk query operation for this app and shop is already in "
                    "progress.",
                }
            ],
        }
    try:
        document = parse(query)
    except GraphQLError as exc:
        return _invalid(f"Invalid bulk query: {exc.message}")
    errors = validate(info.schema, document)
    if errors:
        return _invalid(f"Invalid bulk query: {errors[0].message}")
    top = [s.name.value for d in document.definitions for s in d.selection_set.selections]  # type: ignore[attr-defined]
    if any(name in ("node", "nodes") for name in top):
        return _invalid("Bulk queries cannot contain a top level `node` or `nodes` field.")
    bulk_context = dataclasses.replace(context, bulk=True, search_warnings=[])
    result = execute(
        info.schema, document, context_value=bulk_context, field_resolver=default_resolver
    )
    data = result.data or {}
    if not any(_is_connection(v) for v in data.values()):
        return _invalid("Bulk queries must contain at least one connection.")
    rows, roots = flatten(data)
    number = context.ids.next()
    op = BulkOperation(
        id=f"gid://shopify/BulkOperation/{number}",
        status="RUNNING",
        created_at=context.now,
        query=query,
        object_count=len(rows),
        root_object_count=roots,
        ready_at=time.time() + BULK_DELAY_SECONDS,
    )
    payload = "".join(json.dumps(r) + "\n" for r in rows).encode()
    outcome = store.faults.bulk_outcome
    url = f"{context.base_url}/_bulk/{store.domain}/{number}.jsonl"
    if outcome == "FAILED":
        op.error_code = "INTERNAL_SERVER_ERROR"
    elif outcome == "TIMEOUT":
        op.error_code, op.partial_data_url = "TIMEOUT", url
        op.payload = payload[: len(payload) // 2].rsplit(b"\n", 1)[0] + b"\n" if rows else b""
    elif rows and outcome != "NO_URL":
        op.payload, op.url, op.file_size = payload, url, len(payload)
    store.bulk_operations[op.id] = op
    store.add(op)
    return {"bulkOperation": op, "userErrors": []}


@resolves("QueryRoot", "currentBulkOperation")
def current_bulk_operation(_root: Any, info: GraphQLResolveInfo, type: str = "QUERY") -> Any:  # noqa: A002
    ops = [op for op in ctx(info).store.bulk_operations.values() if op.type == type]
    return ctx(info).bulk_runner.refresh(ops[-1]) if ops else None


@resolves(
    "BulkOperation",
    "status",
    "completedAt",
    "url",
    "partialDataUrl",
    "errorCode",
    "fileSize",
    "objectCount",
    "rootObjectCount",
)
def bulk_field(op: BulkOperation, info: GraphQLResolveInfo) -> Any:
    ctx(info).bulk_runner.refresh(op)
    if op.status == "RUNNING" and info.field_name in ("url", "partialDataUrl", "fileSize"):
        return None
    if op.status == "FAILED" and info.field_name == "url":
        return None
    return default_resolver(op, info)
