"""The resources every definition gets, configured without touching the network."""

from __future__ import annotations

import dagster as dg

from resources.email import EmailResource
from resources.postgres import PostgresResource
from resources.registry import RegistryResource
from resources.shopify import ShopifyResource


def build_resources(registry_path: str | None = None) -> dict[str, dg.ConfigurableResource]:
    """Resources for `dg.Definitions`. Nothing here connects or reads a secret: the
    database URL, the Shopify base URL and every token are resolved at run time. The
    registry is one resource, nested in the Shopify one, so every asset, check, sensor,
    schedule and email reads the same file."""
    postgres = PostgresResource()
    registry = RegistryResource(path=registry_path)
    return {
        "postgres": postgres,
        "registry": registry,
        "shopify": ShopifyResource(registry=registry),
        "email": EmailResource(postgres=postgres, registry_path=registry_path),
    }
