"""Shopify Admin GraphQL client: `ShopifyResource.get_client(store_key)` -> `ShopifyClient`."""

from resources.shopify.client import ShopifyClient
from resources.shopify.errors import (
    MutationResult,
    ShopifyAccessDenied,
    ShopifyAmbiguousWriteError,
    ShopifyAuthError,
    ShopifyBulkOperationError,
    ShopifyCostExceeded,
    ShopifyError,
    ShopifyNotFound,
    ShopifyQueryError,
    ShopifySearchWarning,
    ShopifyShopUnavailable,
    ShopifyTransientError,
    UserError,
)
from resources.shopify.operations import Operation, load_operation, operation_names
from resources.shopify.recorder import (
    ApiCall,
    CallRecorder,
    MemoryCallRecorder,
    PostgresCallRecorder,
)
from resources.shopify.resource import ShopifyResource
from resources.shopify.throttle import ScaledClock, SystemClock, ThrottleStatus
from resources.shopify.transport import RetryPolicy
from resources.shopify.versions import (
    InventorySet,
    inventory_set_operation,
    inventory_set_variables,
    stable_key,
)

__all__ = [
    "ApiCall",
    "CallRecorder",
    "InventorySet",
    "MemoryCallRecorder",
    "MutationResult",
    "Operation",
    "PostgresCallRecorder",
    "RetryPolicy",
    "ScaledClock",
    "ShopifyAccessDenied",
    "ShopifyAmbiguousWriteError",
    "ShopifyAuthError",
    "ShopifyBulkOperationError",
    "ShopifyClient",
    "ShopifyCostExceeded",
    "ShopifyError",
    "ShopifyNotFound",
    "ShopifyQueryError",
    "ShopifyResource",
    "ShopifySearchWarning",
    "ShopifyShopUnavailable",
    "ShopifyTransientError",
    "SystemClock",
    "ThrottleStatus",
    "UserError",
    "inventory_set_operation",
    "inventory_set_variables",
    "load_operation",
    "operation_names",
    "stable_key",
]
