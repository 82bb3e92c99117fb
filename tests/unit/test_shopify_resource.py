"""The Dagster resource: no IO at load, URLs from config/env, safe reprs."""

from __future__ import annotations

import dagster as dg
import pytest

from resources.shopify import ShopifyResource
from resources.shopify.transport import graphql_url


def test_definitions_load_without_env_network_or_registry(monkeypatch) -> None:
    monkeypatch.setenv("SHOPSYNC_REGISTRY", "/nonexistent/registry.yaml")
    resource = ShopifyResource()
    defs = dg.Definitions(resources={"shopify": resource})
    assert defs.resources["shopify"] is resource  # nothing was read


def test_base_url_env_points_every_store_at_the_simulator(monkeypatch) -> None:
    monkeypatch.delenv("SHOPSYNC_REGISTRY", raising=False)
    monkeypatch.setenv("SHOPSYNC_SHOPIFY_BASE_URL", "http://127.0.0.1:9999/")
    client = ShopifyResource(api_version="2025-01").get_client("nationwide-plants", run_id="r1")
    assert client.transport.url == (
        "http://127.0.0.1:9999/nationwide-plants.myshopify.com/admin/api/2025-01/graphql.json"
    )
    assert client.store.token_env == "SHOPSYNC_TOKEN_NATIONWIDE_PLANTS"  # noqa: S105
    assert client.run_id == "r1"
    client.close()


def test_without_base_url_the_real_shopify_url_is_used(monkeypatch) -> None:
    monkeypatch.delenv("SHOPSYNC_SHOPIFY_BASE_URL", raising=False)
    monkeypatch.delenv("SHOPSYNC_REGISTRY", raising=False)
    with ShopifyResource().get_client("hub") as client:
        assert client.transport.url == (
            "https://greenhouse-hub.myshopify.com/admin/api/2026-10/graphql.json"
        )
    assert graphql_url("a.myshopify.com", "2025-01", None).startswith("https://a.myshopify.com/")


def test_unknown_store_and_bad_version_fail_clearly(monkeypatch) -> None:
    monkeypatch.delenv("SHOPSYNC_REGISTRY", raising=False)
    with pytest.raises(KeyError, match="no store 'nope'"):
        ShopifyResource().get_client("nope")
    with pytest.raises(ValueError, match="YYYY-MM"):
        ShopifyResource(api_version="latest").get_client("hub")


def test_client_repr_shows_no_token(monkeypatch) -> None:
    monkeypatch.delenv("SHOPSYNC_REGISTRY", raising=False)
    monkeypatch.setenv("SHOPSYNC_TOKEN_HUB", "shpat_SECRET_REPR_CANARY")
    with ShopifyResource().get_client("hub") as client:
        assert "CANARY" not in repr(client) and "CANARY" not in repr(client.__dict__)
