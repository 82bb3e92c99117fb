"""Cursor pagination and the batched SKU look-up.

Pages follow `pageInfo.endCursor` with `first` = the operation's page size (FACTS.md §2.1).
SKU look-ups are never one call per SKU: SKUs are OR-ed into search queries chunked by
length and by the 250-item page (FACTS.md §2.3), and matches are kept only when exact,
because search is tokenised and may return neighbours.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from resources.shopify.cost_estimate import MAX_PAGE_SIZE
from resources.shopify.errors import ShopifyError
from resources.shopify.operations import load_operation

if TYPE_CHECKING:
    from resources.shopify.client import ShopifyClient

# Shopify documents no limit on `query:` length; this is a conservative choice, not a fact.
SKU_QUERY_MAX_CHARS = 4000
SKU_OPERATION = "products_variants_by_sku"


def connection_at(data: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    node: Any = data
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return {}
    return node


def connection_nodes(connection: dict[str, Any]) -> list[dict[str, Any]]:
    """Nodes of a connection whether the document selected `nodes` or `edges { node }`."""
    if connection.get("nodes") is not None:
        return list(connection["nodes"])
    return [edge["node"] for edge in connection.get("edges") or []]


def paginate(
    client: ShopifyClient,
    operation: str,
    variables: dict[str, Any],
    connection_path: tuple[str, ...],
) -> Iterator[dict[str, Any]]:
    """Yield every node, one page per request, until `hasNextPage` is false."""
    variables = dict(variables)
    while True:
        data = client.execute(operation, variables)
        connection = connection_at(data, connection_path)
        yield from connection_nodes(connection)
        info = connection.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return
        if not info.get("endCursor"):
            raise ShopifyError(
                "hasNextPage without endCursor; select pageInfo { hasNextPage endCursor }",
                store=client.store.key,
                operation=operation,
            )
        variables["after"] = info["endCursor"]


def sku_term(sku: str) -> str:
    """`sku:"A-1"` with quotes and backslashes escaped, so any SKU is one search term."""
    escaped = sku.replace("\\", "\\\\").replace('"', '\\"')
    return f'sku:"{escaped}"'


def sku_query_chunks(
    skus: Iterable[str], max_chars: int = SKU_QUERY_MAX_CHARS, max_terms: int = MAX_PAGE_SIZE
) -> Iterator[tuple[list[str], str]]:
    """Group SKUs into `sku:A OR sku:B …` queries no longer than `max_chars`."""
    chunk: list[str] = []
    length = 0
    for sku in dict.fromkeys(s for s in skus if s):  # dedupe, keep order
        term = sku_term(sku)
        extra = len(term) + (4 if chunk else 0)  # " OR "
        if chunk and (length + extra > max_chars or len(chunk) >= max_terms):
            yield chunk, " OR ".join(sku_term(s) for s in chunk)
            chunk, length, extra = [], 0, len(term)
        chunk.append(sku)
        length += extra
    if chunk:
        yield chunk, " OR ".join(sku_term(s) for s in chunk)


def variants_by_sku(
    client: ShopifyClient, skus: Iterable[str], max_chars: int = SKU_QUERY_MAX_CHARS
) -> dict[str, list[dict[str, Any]]]:
    """Every requested SKU mapped to the variants carrying exactly that SKU (maybe several)."""
    page_size = load_operation(SKU_OPERATION).page_size or MAX_PAGE_SIZE
    found: dict[str, list[dict[str, Any]]] = {}
    for chunk, query in sku_query_chunks(skus, max_chars, page_size):
        wanted = set(chunk)
        for sku in chunk:
            found[sku] = []
        seen: set[str] = set()
        variables = {"query": query, "first": min(page_size, len(chunk))}
        for node in paginate(client, SKU_OPERATION, variables, ("productVariants",)):
            sku = node.get("sku")
            if sku in wanted and node["id"] not in seen:
                seen.add(node["id"])
                found[sku].append(node)
    return found
