"""Cursor pagination and the batched SKU look-up (FACTS.md §2.1, §2.3)."""

from __future__ import annotations

import json

import httpx
import pytest
from shopify_fakes import TOKEN_ENV, make_client, ok

from resources.shopify.pagination import sku_query_chunks, sku_term


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "shpat_unit")


class CataloguePages:
    """Serves `total` variants page by page, honouring `first` and `after`."""

    def __init__(self, total: int, skus: dict[str, int] | None = None) -> None:
        self.total = total
        self.variables: list[dict] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        variables = json.loads(request.content)["variables"]
        self.variables.append(variables)
        start = int(variables.get("after") or 0)
        end = min(self.total, start + variables["first"])
        nodes = [
            {"id": f"gid://shopify/ProductVariant/{i}", "sku": f"S{i}"} for i in range(start, end)
        ]
        page = {
            "nodes": nodes,
            "pageInfo": {"hasNextPage": end < self.total, "endCursor": str(end)},
        }
        return ok({"productVariants": page})


def test_paginate_follows_end_cursor_across_many_pages() -> None:
    server = CataloguePages(total=1234)
    client = make_client(server)
    nodes = list(
        client.paginate("products_variants_by_sku", {"query": "sku:*"}, ("productVariants",))
    )
    assert [n["id"] for n in nodes] == [f"gid://shopify/ProductVariant/{i}" for i in range(1234)]
    assert len(server.variables) == 5
    assert all(v["first"] == 250 for v in server.variables)
    assert [v.get("after") for v in server.variables] == [None, "250", "500", "750", "1000"]


def test_paginate_uses_the_page_size_the_document_declares() -> None:
    server = CataloguePages(total=500)
    client = make_client(server)
    list(
        client.paginate(
            "catalogue_variants_inventory",
            {"locationId": "gid://shopify/Location/1"},
            ("productVariants",),
        )
    )
    assert {v["first"] for v in server.variables} == {240}


def test_sku_chunks_respect_length_and_page_limits_and_dedupe() -> None:
    skus = [f"SKU-{i:05d}" for i in range(600)] + ["SKU-00001", ""]
    chunks = list(sku_query_chunks(skus, max_chars=4000, max_terms=250))
    flat = [s for chunk, _ in chunks for s in chunk]
    assert flat == [f"SKU-{i:05d}" for i in range(600)]
    for chunk, query in chunks:
        assert len(chunk) <= 250 and len(query) <= 4000
        assert query == " OR ".join(f'sku:"{s}"' for s in chunk)
    small = list(sku_query_chunks(skus[:10], max_chars=60))
    assert all(len(q) <= 60 for _, q in small) and [len(c) for c, _ in small] == [3, 3, 3, 1]


def test_sku_terms_are_quoted_and_escaped() -> None:
    assert sku_term('A "B"\\C') == 'sku:"A \\"B\\"\\\\C"'
    assert sku_term("tomato seed 1") == 'sku:"tomato seed 1"'


def test_variants_by_sku_batches_and_keeps_only_exact_matches() -> None:
    requests: list[dict] = []

    def server(request: httpx.Request) -> httpx.Response:
        variables = json.loads(request.content)["variables"]
        requests.append(variables)
        nodes = [
            {"id": "gid://shopify/ProductVariant/1", "sku": "A-1"},
            {"id": "gid://shopify/ProductVariant/2", "sku": "A-1"},  # duplicate SKU: both kept
            {"id": "gid://shopify/ProductVariant/3", "sku": "A-10"},  # a neighbour search matched
        ]
        return ok({"productVariants": {"nodes": nodes, "pageInfo": {"hasNextPage": False}}})

    found = make_client(server).variants_by_sku(["A-1", "B-2", "A-1"])
    assert len(requests) == 1
    assert requests[0]["query"] == 'sku:"A-1" OR sku:"B-2"' and requests[0]["first"] == 2
    assert [v["id"] for v in found["A-1"]] == [
        "gid://shopify/ProductVariant/1",
        "gid://shopify/ProductVariant/2",
    ]
    assert found["B-2"] == []
    assert "A-10" not in found
