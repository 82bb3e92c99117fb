"""``inventorySetQuantities`` with compare-and-set, by version (FACTS.md §4.8, §5).

- up to 2025-10: each quantity needs ``compareQuantity`` unless ``ignoreCompareQuantity``;
  a mismatch is ``COMPARE_QUANTITY_STALE``; nothing is written when any entry fails.
- 2026-01: ``changeFromQuantity`` may be given instead (it wins; ``null`` skips the check);
  ``@idempotent(key:)`` is optional.
- from 2026-04: ``changeFromQuantity`` must be present on every entry (``null`` to opt out),
  the compare* inputs are gone from the schema, and ``@idempotent`` is mandatory. A repeated
  key with the same input returns the original result; with other input,
  ``IDEMPOTENCY_KEY_PARAMETER_MISMATCH``; a key whose attempt failed stays failed
  (``IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED``: retry with a new key); a key still in flight
  answers ``IDEMPOTENCY_CONCURRENT_REQUEST`` (the armed faults of ``simulator.faults``).
  A deactivated level keeps its quantities and may be written.
- from 2026-10: no ``ITEM_NOT_STOCKED_AT_LOCATION``: a write to an unstocked pair stocks
  the item there silently (FACTS §10.2), which is why clients must guard their pairs.
"""

from __future__ import annotations

import json
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo
from graphql.execution.values import get_directive_values

from simulator.context import RequestContext, ctx
from simulator.models import InventoryItem, Location
from simulator.resolver_table import resolves
from simulator.scenario import set_level

REASONS = {
    "correction",
    "cycle_count_available",
    "damaged",
    "movement_created",
    "movement_updated",
    "movement_received",
    "movement_canceled",
    "other",
    "promotion",
    "quality_control",
    "received",
    "reservation_created",
    "reservation_deleted",
    "reservation_updated",
    "restock",
    "safety_stock",
    "shrinkage",
}
LIMIT = 1_000_000_000


def _err(field: list[Any], code: str, message: str) -> dict[str, Any]:
    return {"field": [str(f) for f in field], "code": code, "message": message}


def _idempotency_key(info: GraphQLResolveInfo) -> str | None:
    directive = info.schema.get_directive("idempotent")
    if directive is None:
        return None
    values = get_directive_values(directive, info.field_nodes[0], info.variable_values)
    return values["key"] if values else None


def _check_entry(context: RequestContext, data: dict[str, Any], i: int, q: dict[str, Any]) -> Any:
    """(level, error) for one quantity entry."""
    store, features = context.store, context.features
    path = ["input", "quantities", i]
    item = store.nodes.get(q["inventoryItemId"])
    if not isinstance(item, InventoryItem):
        return None, _err(
            [*path, "inventoryItemId"],
            "INVALID_INVENTORY_ITEM",
            "The specified inventory item could not be found.",
        )
    if not isinstance(store.nodes.get(q["locationId"]), Location):
        return None, _err(
            [*path, "locationId"], "INVALID_LOCATION", "The specified location could not be found."
        )
    level = item.levels.get(q["locationId"])
    if level is not None and not level.is_active and not features.level_activation:
        level = None  # deleted with its quantities before 2026-04
    if level is None and features.unstocked_writes:
        location = store.nodes[q["locationId"]]
        level = set_level(store, item, location, 0, context.now)
        store.count("unstocked_pairs_written")
    if level is None:
        return None, _err(
            [*path, "locationId"],
            "ITEM_NOT_STOCKED_AT_LOCATION",
            "The specified inventory item is not stocked at the location.",
        )
    if q["quantity"] < 0 and data["name"] == "on_hand":
        return None, _err(
            [*path, "quantity"], "INVALID_QUANTITY_NEGATIVE", "The quantity can't be negative."
        )
    if q["quantity"] > LIMIT:
        return None, _err(
            [*path, "quantity"],
            "INVALID_QUANTITY_TOO_HIGH",
            "The total quantity can't be higher than 1,000,000,000.",
        )
    current = level.quantities_map.get(data["name"], 0)
    if features.change_from_quantity and "changeFromQuantity" in q:
        expected = q["changeFromQuantity"]
        if expected is not None and expected != current:
            return None, _err(
                [*path, "changeFromQuantity"],
                "CHANGE_FROM_QUANTITY_STALE",
                "The changeFromQuantity value does not match persisted value.",
            )
        return level, None
    if features.cas_v2_required:
        raise GraphQLError(
            f"quantities.{i}.changeFromQuantity must be provided "
            "(pass null to opt out of the compare-and-set check)."
        )
    if data.get("ignoreCompareQuantity"):
        return level, None
    if q.get("compareQuantity") is None:
        return None, _err(
            [*path, "compareQuantity"],
            "COMPARE_QUANTITY_REQUIRED",
            "The compareQuantity argument must be given to each quantity or ignored "
            "using ignoreCompareQuantity.",
        )
    if q["compareQuantity"] != current:
        return None, _err(
            [*path, "compareQuantity"],
            "COMPARE_QUANTITY_STALE",
            "The compareQuantity value does not match persisted value.",
        )
    return level, None


def set_quantities(context: RequestContext, data: dict[str, Any]) -> dict[str, Any]:
    _sell_first_entry(context, data)
    errors: list[dict[str, Any]] = []
    if data["name"] not in ("available", "on_hand"):
        errors.append(
            _err(
                ["input", "name"],
                "INVALID_NAME",
                "The quantity name must be either 'available' or 'on_hand'.",
            )
        )
    if data["reason"] not in REASONS:
        errors.append(
            _err(["input", "reason"], "INVALID_REASON", "The specified reason is invalid.")
        )
    if errors:
        return {"inventoryAdjustmentGroup": None, "userErrors": errors}
    pairs = [(q["inventoryItemId"], q["locationId"]) for q in data["quantities"]]
    if len(set(pairs)) != len(pairs):
        return {
            "inventoryAdjustmentGroup": None,
            "userErrors": [
                _err(
                    ["input", "quantities"],
                    "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                    "The combination of inventoryItemId and locationId must be unique.",
                )
            ],
        }
    checked = [_check_entry(context, data, i, q) for i, q in enumerate(data["quantities"])]
    errors = [e for _, e in checked if e]
    if errors:
        return {"inventoryAdjustmentGroup": None, "userErrors": errors}
    changes = []
    other = "on_hand" if data["name"] == "available" else "available"
    for (level, _), q in zip(checked, data["quantities"], strict=True):
        delta = q["quantity"] - level.quantities_map.get(data["name"], 0)
        available = q["quantity"] if data["name"] == "available" else None
        if available is None:  # on_hand set: available moves by the same delta
            available = level.quantities_map.get("available", 0) + delta
        context.store.change_level(level, context.now, available=available)
        if data["name"] == "on_hand":
            level.quantities_map["on_hand"] = q["quantity"]
        for name in (data["name"], other):
            changes.append(
                {
                    "name": name,
                    "delta": delta,
                    "item": level.item,
                    "location": level.location,
                    "quantityAfterChange": level.quantities_map[name],
                }
            )
    group = {
        "id": context.ids.gid("InventoryAdjustmentGroup"),
        "createdAt": context.now,
        "reason": data["reason"],
        "referenceDocumentUri": data.get("referenceDocumentUri"),
        "changes": changes,
    }
    return {"inventoryAdjustmentGroup": group, "userErrors": []}


@resolves("Mutation", "inventorySetQuantities")
def inventory_set_quantities(_root: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> Any:  # noqa: A002
    context = ctx(info)
    key = _idempotency_key(info)
    if key is None:
        if context.features.cas_v2_required:
            raise GraphQLError(
                "The @idempotent directive is required for this mutation.",
                extensions={"code": "BAD_REQUEST"},
            )
        return set_quantities(context, input)
    fingerprint = json.dumps(input, sort_keys=True, default=str)
    faults = context.store.faults
    if key in context.store.failed_keys or faults.take("idempotency_previous_attempt_failed"):
        context.store.failed_keys.add(key)
        return _refused(
            "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED",
            "A previous attempt with this idempotency key failed. Retry with a new key.",
        )
    if faults.take("idempotency_concurrent_request"):
        return _refused(
            "IDEMPOTENCY_CONCURRENT_REQUEST",
            "A request with this idempotency key is already in progress. Retry later.",
        )
    seen = context.store.idempotency.get(key)
    if seen is not None:
        if seen[0] == fingerprint:
            context.store.count("idempotent_replays")
            return seen[1]
        return {
            "inventoryAdjustmentGroup": None,
            "userErrors": [
                _err(
                    [],
                    "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                    "The same idempotency key cannot be used with different operation parameters.",
                )
            ],
        }
    result = set_quantities(context, input)
    context.store.idempotency[key] = (fingerprint, result)
    return result


def _refused(code: str, message: str) -> dict[str, Any]:
    return {"inventoryAdjustmentGroup": None, "userErrors": [_err([], code, message)]}


def _sell_first_entry(context: RequestContext, data: dict[str, Any]) -> None:
    """FAULTS I1: a shopper buys one unit between the client's read and this write."""
    if not data.get("quantities") or not context.store.faults.take("sell_before_inventory_write"):
        return
    q = data["quantities"][0]
    item = context.store.nodes.get(q["inventoryItemId"])
    level = item.levels.get(q["locationId"]) if isinstance(item, InventoryItem) else None
    if level is not None:
        context.store.change_level(level, context.now, committed=1)
        context.store.count("sold_before_inventory_write")
