"""Shared set-up for the Shopify client's integration tests: a registry pointing at the
simulator's stores, and a resource configured for fast retries."""

from __future__ import annotations

from pathlib import Path

import yaml

from resources.registry import RegistryResource
from resources.shopify import ShopifyResource

HUB = "hub.myshopify.com"
RETAILER = "retailer-a.myshopify.com"


def write_registry(
    path: Path,
    hub_token_env: str = "SHOPSYNC_TOKEN_HUB",  # noqa: S107 (variable names, not tokens)
    retailer_token_env: str = "SHOPSYNC_TOKEN_RETAILER_A",  # noqa: S107
) -> Path:
    billing = {
        "company": "A",
        "address1": "1 St",
        "city": "Denver",
        "country_code": "US",
        "zip": "80202",
    }
    registry = {
        "hub": {"key": "hub", "name": "Hub", "shop_domain": HUB, "token_env": hub_token_env,
                "location_id": "gid://shopify/Location/1001", "plan": "Advanced"},
        "retailers": [
            {"key": "retailer-a", "name": "Retailer A", "shop_domain": RETAILER,
             "token_env": retailer_token_env, "hub_location_id": "gid://shopify/Location/2001",
             "billing_address": billing},
            {"key": "ghost", "name": "Ghost", "shop_domain": "ghost.myshopify.com",
             "token_env": "SHOPSYNC_TOKEN_GHOST", "hub_location_id": "gid://shopify/Location/9",
             "billing_address": billing},
        ],
    }  # fmt: skip
    file = path / "registry.yaml"
    file.write_text(yaml.safe_dump(registry))
    return file


def resource_for(base_url: str, registry: Path, **overrides) -> ShopifyResource:
    settings = {
        "registry": RegistryResource(path=str(registry)),
        "base_url": base_url,
        "api_version": "2025-01",
        "read_timeout_seconds": 2.0,
        "retry_base_delay_seconds": 0.01,
        "retry_max_delay_seconds": 0.05,
        "max_retries": 4,
        **overrides,
    }
    return ShopifyResource(**settings)
