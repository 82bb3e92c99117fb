"""The `orderCreate` input for the hub order of one eligible retailer order.

What the hub order carries, and why:
- lines: the hub variant (`variantId`), the quantity remaining at the hub location, the
  price the retailer pays (`custom.retailer_cost` metafield, else the variant price), and
  `requiresShipping: true` (the input's default is *false*, which would give the hub order no
  fulfillment order for the warehouse to ship);
- billing address: the retailer's B2B address; shipping address: the customer's;
- no customer email and no receipts: the hub must never write to the retailer's customer;
- the source key as tag, `sourceIdentifier` and custom attribute (see `sync.order_keys`);
- `financialStatus` PENDING by default: the hub invoices the retailer outside Shopify;
- `inventoryBehaviour` DECREMENT_IGNORING_POLICY by default: the hub's stock must drop so the
  inventory flow pushes the right numbers, but an oversold hub must still create the order
  the retailer already sold (DECREMENT_OBEYING_POLICY would refuse it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.models import RetailerOrder
from sync.order_keys import HUB_TAG, SOURCE_ATTRIBUTE, retailer_tag, source_key
from sync.orders import Classification, HubLine

_ADDRESS_FIELDS = {
    "firstName": "firstName",
    "lastName": "lastName",
    "company": "company",
    "address1": "address1",
    "address2": "address2",
    "city": "city",
    "provinceCode": "provinceCode",
    "countryCodeV2": "countryCode",
    "zip": "zip",
    "phone": "phone",
}


def mailing_address_input(address: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A `MailingAddress` read from the API as a `MailingAddressInput` (empty fields dropped)."""
    if not address:
        return None
    out = {dst: address[src] for src, dst in _ADDRESS_FIELDS.items() if address.get(src)}
    if "countryCode" not in out and address.get("countryCode"):
        out["countryCode"] = address["countryCode"]
    return out


def _line_input(line: HubLine, currency_code: str) -> dict[str, Any]:
    if line.variant is None:
        raise ValueError(f"line {line.line_item_id} has no hub variant: classify the order first")
    item: dict[str, Any] = {
        "variantId": line.variant.id,
        "quantity": line.quantity,
        "requiresShipping": True,
    }
    amount = line.variant.retailer_cost
    currency = line.variant.retailer_cost_currency or currency_code
    if amount is None:
        amount, currency = line.variant.price, currency_code
    if amount is not None:
        money = {"amount": str(amount), "currencyCode": currency}
        item["priceSet"] = {"shopMoney": money}
    return item


def build_hub_order_input(
    order: RetailerOrder,
    classification: Classification,
    *,
    retailer_key: str,
    retailer_name: str,
    billing_address: Mapping[str, Any],
    currency_code: str = "USD",
    ship_date_attribute: str = "ship_date",
    source_name: str = "shopsync",
    financial_status: str | None = "PENDING",
) -> dict[str, Any]:
    """`OrderCreateOrderInput` for an eligible order's hub order.

    `billing_address` is a `MailingAddressInput` dict, e.g.
    `RetailerConfig.billing_address.as_mailing_address_input()`.
    """
    if not classification.eligible:
        raise ValueError(
            f"order {order.name} ({order.id}) is {classification.status}: "
            f"{classification.reason}; only eligible orders get a hub order"
        )
    key = source_key(retailer_key, order.id)
    attributes = [
        {"key": SOURCE_ATTRIBUTE, "value": key},
        {"key": "retailer", "value": retailer_name},
        {"key": "retailer_order", "value": order.name},
        {"key": "retailer_order_id", "value": order.id},
    ]
    if order.ship_date:
        attributes.append({"key": ship_date_attribute, "value": order.ship_date})
    note = f"Drop-ship for {retailer_name}, order {order.name} ({order.id})."
    if order.note:
        note += f"\nCustomer note: {order.note}"
    order_input: dict[str, Any] = {
        "lineItems": [_line_input(line, currency_code) for line in classification.lines],
        "currency": currency_code,
        "billingAddress": dict(billing_address),
        "shippingAddress": mailing_address_input(order.shipping_address),
        "note": note,
        "poNumber": order.name,
        "sourceIdentifier": key,
        "sourceName": source_name,
        "tags": [HUB_TAG, retailer_tag(retailer_key), key, f"retailer-order:{order.name}"],
        "customAttributes": attributes,
        "test": order.test,
    }
    if financial_status:
        order_input["financialStatus"] = financial_status
    return order_input


def order_create_variables(
    order_input: Mapping[str, Any],
    *,
    inventory_behaviour: str = "DECREMENT_IGNORING_POLICY",
) -> dict[str, Any]:
    """Variables for `orders_create_hub`: the order plus options that send no receipt."""
    return {
        "order": dict(order_input),
        "options": {
            "inventoryBehaviour": inventory_behaviour,
            "sendReceipt": False,
            "sendFulfillmentReceipt": False,
        },
    }
