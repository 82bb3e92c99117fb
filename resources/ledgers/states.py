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
