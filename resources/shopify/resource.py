"""`ShopifyResource`: the Dagster resource handing out one `ShopifyClient` per store.

Nothing here touches the network, the registry file or a secret while definitions load:
the registry and `SHOPSYNC_SHOPIFY_BASE_URL` are read in `get_client`, and each token is
read from the env var the registry names on every request (never stored in config).
"""

from __future__ import annotations

import os
import threading

import dagster as dg
import httpx
from pydantic import Field

from resources.postgres import token_connection
from resources.registry import AccessTokenAuth, RegistryResource, StoreConfig
from resources.shopify.auth import EnvTokenSource, TokenSource, token_source
from resources.shopify.bulk import BulkSettings
from resources.shopify.client import ShopifyClient
from resources.shopify.oauth import OAuthClient
from resources.shopify.pagination import SKU_QUERY_MAX_CHARS
from resources.shopify.recorder import CallRecorder
from resources.shopify.responses import StoreContext
from resources.shopify.throttle import Clock, Throttle
from resources.shopify.transport import RetryPolicy, graphql_url
from resources.shopify.versions import DEFAULT_API_VERSION, parse_version

BASE_URL_ENV = "SHOPSYNC_SHOPIFY_BASE_URL"

_SHARED_THROTTLES: dict[str, Throttle] = {}
_SHARED_LOCK = threading.Lock()


def shared_throttle(url: str) -> Throttle:
    """One pacing state per store endpoint in this process: a client opened by a check
    after the asset's client starts from the bucket figure the asset last saw, instead of
    from nothing (which would send blind and meet THROTTLED)."""
    with _SHARED_LOCK:
        return _SHARED_THROTTLES.setdefault(url, Throttle())


class ShopifyResource(dg.ConfigurableResource):
    """Cost-aware, retrying Shopify Admin GraphQL clients for the stores of the registry."""

    registry: RegistryResource = Field(
        default_factory=RegistryResource, description="The retailer registry (one path for all)"
    )
    base_url: str | None = Field(
        default=None,
        description=f"Point every store at a simulator: {{base}}/{{shop}}/admin/api/...; "
        f"default ${BASE_URL_ENV}, else https://{{shop}}",
    )
    api_version: str = Field(default=DEFAULT_API_VERSION, description="Admin API version")
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 60.0
    max_retries: int = Field(default=5, description="Retries for 429/5xx/timeouts/resets")
    retry_base_delay_seconds: float = 0.5
    retry_max_delay_seconds: float = 30.0
    retry_deadline_seconds: float = Field(default=120.0, description="Total time for one call")
    bulk_threshold: int = Field(
        default=25_000, description="Catalogues with more variants than this use a bulk query"
    )
    bulk_poll_max_seconds: float = 30.0
    sku_query_max_chars: int = SKU_QUERY_MAX_CHARS
    database_url: str | None = Field(
        default=None,
        description="Where OAuth stores' tokens are kept (default: the warehouse database)",
    )

    def resolved_base_url(self) -> str | None:
        return self.base_url or os.environ.get(BASE_URL_ENV) or None

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=self.max_retries,
            base_delay=self.retry_base_delay_seconds,
            max_delay=self.retry_max_delay_seconds,
            deadline_seconds=self.retry_deadline_seconds,
        )

    def use_bulk(self, expected_rows: int) -> bool:
        """Whether a read of `expected_rows` should go through a bulk query."""
        return expected_rows > self.bulk_threshold

    def get_client(
        self,
        store_key: str,
        *,
        run_id: str | None = None,
        recorder: CallRecorder | None = None,
        clock: Clock | None = None,
        http_transport: httpx.BaseTransport | None = None,
    ) -> ShopifyClient:
        """A client for one store of the registry. Close it (or use `with`) when done."""
        return self.client_for_store(
            self.registry.get().store(store_key),
            run_id=run_id,
            recorder=recorder,
            clock=clock,
            http_transport=http_transport,
        )

    def client_for_store(
        self,
        store: StoreConfig,
        *,
        run_id: str | None = None,
        recorder: CallRecorder | None = None,
        clock: Clock | None = None,
        http_transport: httpx.BaseTransport | None = None,
    ) -> ShopifyClient:
        """A client for `store`, in the registry or not yet (onboarding reads a store
        before its entry exists)."""
        parse_version(self.api_version)
        context = StoreContext(
            key=store.key,
            shop_domain=store.shop_domain,
            token_env=store.token_env,
            auth_kind=store.auth.kind,
        )
        url = graphql_url(store.shop_domain, self.api_version, self.resolved_base_url())
        return ShopifyClient(
            context,
            url=url,
            api_version=self.api_version,
            retry=self.retry_policy(),
            connect_timeout=self.connect_timeout_seconds,
            read_timeout=self.read_timeout_seconds,
            run_id=run_id,
            recorder=recorder,
            clock=clock,
            throttle=shared_throttle(url) if clock is None else None,
            http_transport=http_transport,
            bulk_settings=BulkSettings(poll_max=self.bulk_poll_max_seconds),
            sku_query_max_chars=self.sku_query_max_chars,
            token_source=self.token_source(store),
        )

    def token_source(self, store: StoreConfig) -> TokenSource:
        """A legacy token from its env var, else the store's stored OAuth token (in the
        warehouse database)."""
        if isinstance(store.auth, AccessTokenAuth):
            return EnvTokenSource(store.key, store.auth.token_env)
        oauth = OAuthClient(self.resolved_base_url())
        return token_source(store, oauth, lambda: token_connection(self.database_url))
