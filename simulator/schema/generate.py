"""Regenerate ``admin_2025-01.graphql`` from the real introspection file.

Why a generator: the simulator's SDL must be a strict subset of Shopify's 2025-01 schema
(same types, same argument lists and defaults). Hand-copying hundreds of enum values and
argument defaults is error-prone, so we name the subset here and print it from the real
schema. Run: ``python -m simulator.schema.generate PATH/admin_schema_2025-01.json.gz``.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    build_client_schema,
    get_named_type,
    print_ast,
)
from graphql.utilities import ast_from_value

CONN = ["edges", "nodes", "pageInfo"]
EDGE = ["cursor", "node"]
ADDR = "address1 address2 city company country countryCodeV2 firstName lastName name phone"
ADDR2 = "province provinceCode zip id"

#: Object/interface types and the fields we serve; input objects and the input fields we read.
SUBSET: dict[str, list[str]] = {
    "QueryRoot": [
        "shop",
        "locations",
        "location",
        "orders",
        "order",
        "productVariants",
        "productVariant",
        "inventoryItems",
        "inventoryItem",
        "inventoryLevel",
        "fulfillmentOrder",
        "currentAppInstallation",
        "node",
        "nodes",
        "currentBulkOperation",
        "job",
    ],
    "Mutation": [
        "orderCreate",
        "tagsAdd",
        "fulfillmentCreate",
        "fulfillmentTrackingInfoUpdate",
        "inventorySetQuantities",
        "bulkOperationRunQuery",
        "orderCancel",
        "fulfillmentOrderHold",
        "fulfillmentOrderReleaseHold",
        "orderEditBegin",
        "orderEditSetQuantity",
        "orderEditAddVariant",
        "orderEditCommit",
    ],
    "Node": ["id"],
    "Shop": ["id", "name", "myshopifyDomain", "currencyCode", "ianaTimezone", "email", "plan"],
    "ShopPlan": ["displayName", "partnerDevelopment", "shopifyPlus"],
    "Location": [
        "id",
        "legacyResourceId",
        "name",
        "isActive",
        "isPrimary",
        "fulfillsOnlineOrders",
        "shipsInventory",
        "address",
        "inventoryLevel",
        "inventoryLevels",
    ],
    "LocationAddress": [
        "address1",
        "address2",
        "city",
        "province",
        "provinceCode",
        "country",
        "countryCode",
        "zip",
    ],
    "Order": [
        "id",
        "legacyResourceId",
        "name",
        "createdAt",
        "updatedAt",
        "processedAt",
        "cancelledAt",
        "cancelReason",
        "closed",
        "closedAt",
        "displayFinancialStatus",
        "displayFulfillmentStatus",
        "tags",
        "note",
        "email",
        "test",
        "sourceIdentifier",
        "sourceName",
        "customAttributes",
        "metafield",
        "metafields",
        "shippingAddress",
        "billingAddress",
        "totalPriceSet",
        "lineItems",
        "fulfillmentOrders",
        "fulfillments",
        "cancellation",
        "edited",
        "refunds",
        "totalRefundedSet",
        "returnStatus",
    ],
    "LineItem": [
        "id",
        "sku",
        "name",
        "title",
        "quantity",
        "currentQuantity",
        "unfulfilledQuantity",
        "variant",
        "originalUnitPriceSet",
        "requiresShipping",
        "vendor",
        "variantTitle",
    ],
    "MailingAddress": (ADDR + " " + ADDR2).split(),
    "MoneyBag": ["shopMoney", "presentmentMoney"],
    "MoneyV2": ["amount", "currencyCode"],
    "Attribute": ["key", "value"],
    "Metafield": ["id", "namespace", "key", "type", "value", "createdAt", "updatedAt"],
    "FulfillmentOrder": [
        "id",
        "status",
        "requestStatus",
        "createdAt",
        "updatedAt",
        "orderId",
        "orderName",
        "order",
        "assignedLocation",
        "lineItems",
        "fulfillments",
        "fulfillmentHolds",
    ],
    "FulfillmentOrderAssignedLocation": [
        "name",
        "location",
        "countryCode",
        "address1",
        "city",
        "zip",
    ],
    "FulfillmentOrderLineItem": [
        "id",
        "totalQuantity",
        "remainingQuantity",
        "sku",
        "lineItem",
        "variant",
        "inventoryItemId",
        "productTitle",
        "variantTitle",
    ],
    "Fulfillment": [
        "id",
        "name",
        "status",
        "displayStatus",
        "createdAt",
        "updatedAt",
        "totalQuantity",
        "location",
        "order",
        "trackingInfo",
        "fulfillmentLineItems",
        "fulfillmentOrders",
    ],
    "FulfillmentLineItem": ["id", "quantity", "lineItem"],
    "FulfillmentTrackingInfo": ["company", "number", "url"],
    "ProductVariant": [
        "id",
        "legacyResourceId",
        "sku",
        "title",
        "price",
        "displayName",
        "barcode",
        "updatedAt",
        "inventoryQuantity",
        "product",
        "inventoryItem",
        "metafield",
        "metafields",
    ],
    "Product": ["id", "title", "handle", "vendor", "status"],
    "InventoryItem": [
        "id",
        "legacyResourceId",
        "sku",
        "tracked",
        "createdAt",
        "updatedAt",
        "variant",
        "inventoryLevel",
    ],
    "InventoryLevel": ["id", "item", "location", "quantities", "createdAt", "updatedAt"],
    "InventoryQuantity": ["id", "name", "quantity", "updatedAt"],
    "AppInstallation": ["id", "accessScopes"],
    "AccessScope": ["handle", "description"],
    "BulkOperation": [
        "id",
        "status",
        "errorCode",
        "createdAt",
        "completedAt",
        "objectCount",
        "rootObjectCount",
        "fileSize",
        "url",
        "partialDataUrl",
        "query",
        "type",
    ],
    "PageInfo": ["hasNextPage", "hasPreviousPage", "startCursor", "endCursor"],
    "UserError": ["field", "message"],
    "OrderCreatePayload": ["order", "userErrors"],
    "OrderCreateUserError": ["code", "field", "message"],
    "TagsAddPayload": ["node", "userErrors"],
    "FulfillmentCreatePayload": ["fulfillment", "userErrors"],
    "FulfillmentTrackingInfoUpdatePayload": ["fulfillment", "userErrors"],
    "InventorySetQuantitiesPayload": ["inventoryAdjustmentGroup", "userErrors"],
    "InventorySetQuantitiesUserError": ["code", "field", "message"],
    "InventoryAdjustmentGroup": ["id", "createdAt", "reason", "referenceDocumentUri", "changes"],
    "InventoryChange": ["name", "delta", "quantityAfterChange", "item", "location"],
    "BulkOperationRunQueryPayload": ["bulkOperation", "userErrors"],
    "BulkOperationUserError": ["code", "field", "message"],
    # order changes after import: cancel (a Job), fulfillment holds, order edits, refunds
    "Job": ["id", "done", "query"],
    "OrderCancelPayload": ["job", "orderCancelUserErrors", "userErrors"],
    "OrderCancelUserError": ["code", "field", "message"],
    "OrderCancellation": ["staffNote"],
    "Refund": ["id", "legacyResourceId", "createdAt", "updatedAt", "note", "totalRefundedSet"],
    "FulfillmentHold": [
        "id",
        "handle",
        "reason",
        "reasonNotes",
        "displayReason",
        "heldByRequestingApp",
    ],
    "FulfillmentOrderHoldPayload": [
        "fulfillmentHold",
        "fulfillmentOrder",
        "remainingFulfillmentOrder",
        "userErrors",
    ],
    "FulfillmentOrderHoldUserError": ["code", "field", "message"],
    "FulfillmentOrderReleaseHoldPayload": ["fulfillmentOrder", "userErrors"],
    "FulfillmentOrderReleaseHoldUserError": ["code", "field", "message"],
    "OrderEditBeginPayload": ["calculatedOrder", "userErrors"],
    "OrderEditSetQuantityPayload": ["calculatedLineItem", "calculatedOrder", "userErrors"],
    "OrderEditAddVariantPayload": ["calculatedLineItem", "calculatedOrder", "userErrors"],
    "OrderEditCommitPayload": ["order", "userErrors"],
    "CalculatedOrder": [
        "id",
        "originalOrder",
        "lineItems",
        "addedLineItems",
        "subtotalLineItemsQuantity",
        "totalPriceSet",
    ],
    "CalculatedLineItem": [
        "id",
        "quantity",
        "editableQuantity",
        "editableQuantityBeforeChanges",
        "restockable",
        "restocking",
        "sku",
        "title",
        "variantTitle",
        "variant",
        "originalUnitPriceSet",
    ],
    # inputs
    "OrderCreateOrderInput": [
        "lineItems",
        "currency",
        "email",
        "phone",
        "note",
        "name",
        "poNumber",
        "sourceIdentifier",
        "sourceName",
        "tags",
        "test",
        "processedAt",
        "financialStatus",
        "shippingAddress",
        "billingAddress",
        "metafields",
        "customAttributes",
    ],
    "OrderCreateLineItemInput": [
        "quantity",
        "variantId",
        "sku",
        "title",
        "priceSet",
        "requiresShipping",
    ],
    "OrderCreateCustomAttributeInput": ["key", "value"],
    "OrderCreateOptionsInput": ["inventoryBehaviour", "sendReceipt", "sendFulfillmentReceipt"],
    "MoneyBagInput": ["shopMoney", "presentmentMoney"],
    "MoneyInput": ["amount", "currencyCode"],
    "MailingAddressInput": [
        "address1",
        "address2",
        "city",
        "company",
        "countryCode",
        "provinceCode",
        "zip",
        "firstName",
        "lastName",
        "phone",
    ],
    "MetafieldInput": ["namespace", "key", "type", "value"],
    "UniqueMetafieldValueInput": ["namespace", "key", "value"],  # used by the 2025-04 patch
    "FulfillmentInput": ["lineItemsByFulfillmentOrder", "trackingInfo", "notifyCustomer"],
    "FulfillmentOrderLineItemsInput": ["fulfillmentOrderId", "fulfillmentOrderLineItems"],
    "FulfillmentOrderLineItemInput": ["id", "quantity"],
    "FulfillmentTrackingInput": ["number", "url", "company", "numbers", "urls"],
    "InventorySetQuantitiesInput": [
        "name",
        "reason",
        "referenceDocumentUri",
        "quantities",
        "ignoreCompareQuantity",
    ],
    "InventoryQuantityInput": ["inventoryItemId", "locationId", "quantity", "compareQuantity"],
    "FulfillmentOrderHoldInput": [
        "reason",
        "reasonNotes",
        "notifyMerchant",
        "externalId",
        "handle",
        "fulfillmentOrderLineItems",
    ],
}
for _conn in [
    "Location",
    "Order",
    "LineItem",
    "FulfillmentOrder",
    "FulfillmentOrderLineItem",
    "FulfillmentLineItem",
    "ProductVariant",
    "InventoryItem",
    "InventoryLevel",
    "Metafield",
    "Fulfillment",
    "CalculatedLineItem",
]:
    SUBSET[f"{_conn}Connection"] = CONN
    SUBSET[f"{_conn}Edge"] = EDGE
BUILTIN = {"String", "Int", "Float", "Boolean", "ID"}


def _arg(name: str, arg) -> str:
    text = f"{name}: {arg.type}"
    if arg.default_value is None:  # an explicit `= null` (e.g. orderCancel's staffNote)
        text += " = null"
    elif not _undefined(arg.default_value):
        text += f" = {print_ast(ast_from_value(arg.default_value, arg.type))}"
    return text


def _undefined(value) -> bool:
    return type(value).__name__ == "UndefinedType"


def render(schema) -> str:
    """Print the SUBSET of ``schema`` as SDL, failing on any dangling type reference."""
    out = ["schema {\n  query: QueryRoot\n  mutation: Mutation\n}\n"]
    needed: set[str] = set()
    for name in sorted(SUBSET):
        t = schema.type_map[name]
        lines = []
        for fname in SUBSET[name]:
            f = t.fields[fname]
            needed.add(get_named_type(f.type).name)
            args = getattr(f, "args", {}) or {}
            for a in args.values():
                needed.add(get_named_type(a.type).name)
            sig = f"({', '.join(_arg(k, v) for k, v in args.items())})" if args else ""
            if isinstance(t, GraphQLInputObjectType):
                lines.append(f"  {_arg(fname, f)}")
            else:
                lines.append(f"  {fname}{sig}: {f.type}")
        kind = {
            GraphQLObjectType: "type",
            GraphQLInterfaceType: "interface",
            GraphQLInputObjectType: "input",
        }[type(t)]
        impl = ""
        if isinstance(t, GraphQLObjectType):
            ifaces = [i.name for i in t.interfaces if i.name in SUBSET]
            impl = f" implements {' & '.join(ifaces)}" if ifaces else ""
        out.append(f"{kind} {name}{impl} {{\n" + "\n".join(lines) + "\n}\n")
    for name in sorted(needed - set(SUBSET) - BUILTIN):
        t = schema.type_map[name]
        if isinstance(t, GraphQLEnumType):
            out.append(f"enum {name} {{\n" + "\n".join(f"  {v}" for v in t.values) + "\n}\n")
        elif isinstance(t, GraphQLScalarType):
            out.append(f"scalar {name}\n")
        else:
            raise SystemExit(f"type {name} is referenced but not in SUBSET")
    header = "# Generated by simulator/schema/generate.py from Shopify's 2025-01 schema.\n"
    return header + "\n".join(out)


def main(argv: list[str]) -> int:
    source = argv[0] if argv else "../shared/shopify/admin_schema_2025-01.json.gz"
    with gzip.open(source) as handle:
        schema = build_client_schema(json.load(handle)["data"])
    target = Path(__file__).with_name("admin_2025-01.graphql")
    target.write_text(render(schema))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
