"""Execute one GraphQL request against one store, the way Shopify answers it.

Order of events (FACTS.md §1): parse and validate; compute the *requested* cost; refuse above
1,000 (MAX_COST_EXCEEDED) or when the bucket cannot cover it (THROTTLED, HTTP 200, nothing
executed); execute under the store lock; charge the *actual* cost (refund the difference);
report ``extensions.cost`` and any ``extensions.search`` warnings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    build_schema,
    execute,
    get_operation_ast,
    parse,
    validate,
)

from simulator import (  # noqa: F401  (registers resolvers)
    bulk,
    mutations_fulfillment,
    mutations_inventory,
    mutations_order_changes,
    mutations_order_edits,
    mutations_orders,
    resolvers_catalog,
    resolvers_orders,
)
from simulator.context import RequestContext
from simulator.cost import MAX_SINGLE_QUERY_COST, calculate_actual_cost, calculate_requested_cost
from simulator.resolver_table import attach, default_resolver
from simulator.schema import add_later_arguments
from simulator.versions import Features, features_for, includes

SCHEMA_DIR = Path(__file__).with_name("schema")
BASE_SDL = SCHEMA_DIR / "admin_2025-01.graphql"
PATCH_SDL = SCHEMA_DIR / "patch_2025-04_plus.graphql"
THROTTLED_DOC = "https://shopify.dev/api/usage/rate-limits"


def _patch_sections() -> list[tuple[str, str]]:
    """(since-version, SDL) sections of the version patch, split at ``# @since`` markers."""
    sections: list[tuple[str, str]] = []
    for chunk in re.split(r"^# @since ", PATCH_SDL.read_text(), flags=re.M)[1:]:
        version, _, body = chunk.partition("\n")
        sections.append((version.strip(), body))
    return sections


@cache
def schema_for(features: Features) -> GraphQLSchema:
    """The executable schema of a version profile (built once per profile)."""
    sdl = BASE_SDL.read_text()
    for since, body in _patch_sections():
        if _enabled(since, features):
            sdl += "\n" + body
    schema = build_schema(sdl)
    for since, body in _patch_sections():
        if _enabled(since, features):
            add_later_arguments(schema, body)
    if features.cas_v2_required:  # 2026-04 removed the old compare-and-set inputs
        schema.type_map["InventoryQuantityInput"].fields.pop("compareQuantity")  # type: ignore[union-attr]
        schema.type_map["InventorySetQuantitiesInput"].fields.pop("ignoreCompareQuantity")  # type: ignore[union-attr]
    return attach(schema)


def _enabled(since: str, features: Features) -> bool:
    return includes(features, features_for(since))


@dataclass
class Prepared:
    """A parsed, validated request, or the errors that stop it."""

    schema: GraphQLSchema
    features: Features
    document: DocumentNode | None = None
    operation: OperationDefinitionNode | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    operation_name: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_mutation(self) -> bool:
        return self.operation is not None and self.operation.operation == OperationType.MUTATION

    @property
    def root_fields(self) -> set[str]:
        if self.operation is None:
            return set()
        return {
            sel.name.value
            for sel in self.operation.selection_set.selections
            if hasattr(sel, "name") and sel.name is not None
        }


def _format(error: GraphQLError) -> dict[str, Any]:
    out = error.formatted
    match = re.match(r"Cannot query field '(\w+)' on type '(\w+)'", error.message)
    if match:  # graphql-ruby's wording, as Shopify sends it
        out["message"] = f"Field '{match[1]}' doesn't exist on type '{match[2]}'"
        out["extensions"] = {
            "code": "undefinedField",
            "typeName": match[2],
            "fieldName": match[1],
        }
    return out


def prepare(version: str, body: dict[str, Any]) -> Prepared:
    features = features_for(version)
    schema = schema_for(features)
    prepared = Prepared(schema=schema, features=features)
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        prepared.errors = [{"message": "No query string was present"}]
        return prepared
    document, errors = _parse_and_validate(features, query)
    if document is None:
        prepared.errors = errors
        return prepared
    prepared.document = document
    prepared.variables = body.get("variables") or {}
    prepared.operation_name = body.get("operationName")
    prepared.operation = get_operation_ast(document, prepared.operation_name)
    prepared.errors = errors
    return prepared


@lru_cache(maxsize=512)
def _parse_and_validate(
    features: Features, query: str
) -> tuple[DocumentNode | None, list[dict[str, Any]]]:
    """Clients send the same few documents over and over: parse and validate each once."""
    try:
        document = parse(query)
    except GraphQLError as exc:
        return None, [_format(exc)]
    return document, [_format(e) for e in validate(schema_for(features), document)]


def cost_extension(requested: int, actual: int | None, status: dict[str, Any]) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": status,
        }
    }


def run(prepared: Prepared, context: RequestContext) -> dict[str, Any]:
    """Cost-check, throttle, execute; returns the JSON body (always HTTP 200)."""
    store = context.store
    if prepared.errors or prepared.document is None:
        return {
            "errors": prepared.errors,
            "extensions": cost_extension(0, 0, store.bucket.status()),
        }
    schema, document = prepared.schema, prepared.document
    try:
        requested = calculate_requested_cost(
            schema, document, prepared.variables, prepared.operation_name
        )
    except GraphQLError as exc:
        return {"errors": [_format(exc)], "extensions": cost_extension(0, 0, store.bucket.status())}
    if requested > MAX_SINGLE_QUERY_COST:
        store.count("max_cost_exceeded")
        message = (
            f"Query cost is {requested}, which exceeds the single query max cost limit "
            f"({MAX_SINGLE_QUERY_COST}).\n\nSee "
            "https://shopify.dev/concepts/about-apis/rate-limits "
            "for more information on how the cost of a query is calculated.\n\nTo query larger "
            "amounts of data with fewer limits, bulk operations should be used instead.\nSee "
            "https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api "
            "for usage details."
        )
        return {
            "errors": [
                {
                    "message": message,
                    "extensions": {
                        "code": "MAX_COST_EXCEEDED",
                        "cost": requested,
                        "maxCost": MAX_SINGLE_QUERY_COST,
                    },
                }
            ],
            "extensions": cost_extension(requested, None, store.bucket.status()),
        }
    if not store.bucket.try_consume(requested):
        store.count("throttled")
        return {
            "errors": [
                {
                    "message": "Throttled",
                    "extensions": {
                        "code": "THROTTLED",
                        "documentation": THROTTLED_DOC,
                    },
                }
            ],
            "extensions": cost_extension(requested, None, store.bucket.status()),
        }
    with store.lock:
        result = execute(
            schema,
            document,
            context_value=context,
            variable_values=prepared.variables,
            operation_name=prepared.operation_name,
            field_resolver=default_resolver,
        )
    actual = calculate_actual_cost(
        schema, document, prepared.variables, result.data, prepared.operation_name
    )
    store.bucket.refund(requested - actual)
    store.count("cost_points", actual)
    store.count("requested_points", requested)
    if prepared.is_mutation:
        store.count("mutations")
    for name in prepared.root_fields:
        store.count(f"field:{name}")
    out: dict[str, Any] = {}
    if result.errors:
        out["errors"] = [_format(e) for e in result.errors]
    out["data"] = result.data
    out["extensions"] = cost_extension(requested, actual, store.bucket.status())
    if context.search_warnings:
        out["extensions"]["search"] = context.search_warnings
    return out
