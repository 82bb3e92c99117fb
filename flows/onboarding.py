"""Onboarding steps: reach a store that is not in the registry yet, read what the entry
needs (shop, locations, granted scopes), compare the hub catalogue, write the entry.

The new store gets the same client as every registry store (pacing, retries, token
source of its auth kind); only the lookup by registry key is skipped, since the point is
to create that key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flows.inventory_reads import skus_at_location
from resources.ledgers.pending_installs import forget_pending, record_pending
from resources.ledgers.tokens import TokenStore
from resources.postgres import token_connection
from resources.registry import (
    DEFAULT_SCOPES,
    AuthorizationCodeAuth,
    Registry,
    RetailerConfig,
    StoreConfig,
    parse_registry,
)
from resources.shopify import ShopifyClient, ShopifyResource
from sync.doctor import missing_scopes
from sync.onboarding import SkuReport, append_retailer, sku_report


@dataclass(frozen=True)
class StoreFacts:
    """What the new store answered."""

    shop: dict[str, Any]
    locations: list[dict[str, Any]]
    scopes: set[str]

    def missing_scopes(self) -> list[str]:
        return missing_scopes(self.scopes, DEFAULT_SCOPES)


def candidate_store(key: str, name: str, domain: str, auth: dict[str, Any]) -> StoreConfig:
    """The store as the registry will know it (validated now: a bad domain or env name
    fails before any request)."""
    return StoreConfig.model_validate(
        {"key": key, "name": name, "shop_domain": domain, "auth": auth}
    )


def needs_install(store: StoreConfig, database_url: str | None = None) -> bool:
    """An authorization-code store with no token stored yet: the merchant must install first."""
    if not isinstance(store.auth, AuthorizationCodeAuth):
        return False
    with token_connection(database_url) as conn:
        return TokenStore(conn).load(store.key) is None


def await_install(store: StoreConfig, database_url: str | None = None) -> None:
    """Let `shopsync serve` install this store before it is in the registry."""
    with token_connection(database_url) as conn:
        record_pending(conn, store)


def installed(store: StoreConfig, database_url: str | None = None) -> None:
    """The store is in the registry now: it no longer waits as a pending install."""
    with token_connection(database_url) as conn:
        forget_pending(conn, store.shop_domain)


def client_for(shopify: ShopifyResource, store: StoreConfig) -> ShopifyClient:
    """A client for a store outside the registry, configured as `get_client` would."""
    return shopify.client_for_store(store)


def read_store(client: ShopifyClient) -> StoreFacts:
    shop = client.execute("shop_info")["shop"]
    locations = list(client.paginate("locations", {}, ("locations",)))
    granted = client.execute("app_access_scopes")["currentAppInstallation"]["accessScopes"]
    return StoreFacts(shop, locations, {s["handle"] for s in granted})


def hub_skus(hub: ShopifyClient, location_id: str) -> list[str]:
    """Every SKU of the hub catalogue (the variants stocked at its warehouse location)."""
    return sorted(set(skus_at_location(hub, location_id)))


def compare_catalogue(retailer: ShopifyClient, skus: list[str]) -> SkuReport:
    return sku_report(skus, retailer.variants_by_sku(skus))


def already_registered(existing: Registry, key: str, domain: str) -> str | None:
    """Why the store cannot be added (its key or domain is taken), or None."""
    if key in existing.store_keys():
        return f"key '{key}' is already used (pass --key to choose another)"
    if any(s.shop_domain == domain for s in existing.stores()):
        return f"{domain} is already registered"
    return None


def new_registry_text(
    path: Path, entry: dict[str, Any], existing: Registry
) -> tuple[str, Registry]:
    """The file's text with the entry appended, and the whole new registry validated."""
    clash = already_registered(existing, entry["key"], entry["shop_domain"])
    if clash:
        raise ValueError(f"{clash} in {path}")
    text = append_retailer(path.read_text(), entry)
    registry = parse_registry(yaml.safe_load(text), path)
    added = registry.retailers[-1]
    if added != RetailerConfig.model_validate(entry):
        raise ValueError(f"{path}: the appended entry did not land as the last retailer")
    return text, registry


def write_registry(path: Path, text: str) -> None:
    """Replace the file in one rename, so a reader never sees half an entry."""
    tmp = path.with_name(f".{path.name}.onboarding")
    tmp.write_text(text)
    tmp.replace(path)
