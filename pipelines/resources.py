"""The resources every definition gets, configured without touching the network."""

from __future__ import annotations

import dagster as dg

from resources.email import EmailResource
from resources.postgres import PostgresResource
from resources.registry import RegistryResource
from resources.shopify import ShopifyResource


def build_resources() -> dict[str, dg.ConfigurableResource]:
    """Resources for `dg.Definitions`. Nothing here connects or reads a secret: the
    database URL, the Shopify base URL and every token are resolved at run time."""
    postgres = PostgresResource()
    return {
        "postgres": postgres,
        "registry": RegistryResource(),
        "shopify": ShopifyResource(),
        "email": EmailResource(postgres=postgres),
    }
