"""The ledgers' states, in one place (the migrations' CHECK constraints list the same).

A link is *claimed* (committed) before its Shopify mutation; *created* once the
store has the record; an order link is *confirmed* once the retailer order is
tagged as imported, *failed* when the hub refused it; a fulfillment link is
*terminal* when the shipment cannot be pushed (with a reason).
"""

from enum import StrEnum


class OrderLinkState(StrEnum):
    CLAIMED = "claimed"
    CREATED = "created"
    CONFIRMED = "confirmed"
    FAILED = "failed"


class FulfillmentLinkState(StrEnum):
    CLAIMED = "claimed"
    CREATED = "created"
    TERMINAL = "terminal"


class InventoryPushState(StrEnum):
    """An `inventory_pushes` entry: claimed before its call; applied when the store has
    the value; stale when the compare failed twice (a sale in between, reported);
    refused by another user error; superseded when a later run found an open claim not
    applied (it re-plans from fresh reads)."""

    CLAIMED = "claimed"
    APPLIED = "applied"
    STALE = "stale"
    REFUSED = "refused"
    SUPERSEDED = "superseded"
