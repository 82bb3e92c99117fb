"""How a hub order names the retailer order it was made from, and how we find it again.

`orderCreate` has no idempotency key (FACTS §4.5), and the search index lags writes (§2.5), so
after a crash or a lost response the only safe question is "does a hub order carrying this
source key already exist?", asked of data read without a `query:` filter (the newest hub
orders, or known ids). The key is written three ways (tag, `sourceIdentifier`, custom
attribute) so that any one surviving is enough to recognise the order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sync.models import HubOrder

SOURCE_PREFIX = "src"
SOURCE_ATTRIBUTE = "shopsync_source"
HUB_TAG = "shopsync"
IMPORTED_TAG = "shopsync-imported"
_ORDER_GID = re.compile(r"^gid://shopify/Order/(\d+)$")


def source_key(retailer_key: str, order_gid: str) -> str:
    """`src:<retailer>:<legacy id>` (`src:<retailer>:<gid>` for a GID of another shape)."""
    match = _ORDER_GID.match(order_gid)
    return f"{SOURCE_PREFIX}:{retailer_key}:{match.group(1) if match else order_gid}"


@dataclass(frozen=True)
class SourceRef:
    retailer_key: str
    order_gid: str


def parse_source_key(key: str) -> SourceRef | None:
    """Inverse of `source_key`; None for anything that is not one of our keys."""
    prefix, _, rest = key.partition(":")
    retailer, _, ident = rest.partition(":")
    if prefix != SOURCE_PREFIX or not retailer or not ident:
        return None
    gid = f"gid://shopify/Order/{ident}" if ident.isdigit() else ident
    return SourceRef(retailer_key=retailer, order_gid=gid)


def retailer_tag(retailer_key: str) -> str:
    """Tag on every hub order of one retailer: the fulfillment window query filters on it."""
    return f"shopsync-retailer:{retailer_key}"


def imported_tags(hub_order_name: str | None = None) -> list[str]:
    """Tags `orders_tags_add` puts on the retailer order once its hub order exists."""
    tags = [IMPORTED_TAG]
    if hub_order_name:
        tags.append(f"shopsync-hub-order:{hub_order_name.lstrip('#')}")
    return tags


def source_keys_of(hub_order: HubOrder | Mapping[str, Any]) -> set[str]:
    """Every source key a hub order carries (normally one, three times over)."""
    order = hub_order if isinstance(hub_order, HubOrder) else HubOrder.from_graphql(hub_order)
    candidates = [
        *order.tags,
        order.source_identifier or "",
        order.custom_attributes.get(SOURCE_ATTRIBUTE) or "",
    ]
    return {c.strip() for c in candidates if parse_source_key(c.strip())}


def source_of(hub_order: HubOrder | Mapping[str, Any]) -> SourceRef | None:
    """The retailer order a hub order was made from; None when it carries no key or
    conflicting keys (a hub order without a source is what a data check reports)."""
    keys = source_keys_of(hub_order)
    return parse_source_key(next(iter(keys))) if len(keys) == 1 else None


def hub_orders_by_source(
    hub_orders: Iterable[HubOrder | Mapping[str, Any]],
) -> dict[str, list[str]]:
    """Source key -> hub order GIDs, oldest first: more than one GID is a duplicate."""
    found: dict[str, list[tuple[str, str]]] = {}
    for raw in hub_orders:
        order = raw if isinstance(raw, HubOrder) else HubOrder.from_graphql(raw)
        created = order.created_at.isoformat() if order.created_at else ""
        for key in source_keys_of(order):
            found.setdefault(key, []).append((created, order.id))
    return {k: [gid for _, gid in sorted(set(v))] for k, v in found.items()}


def find_existing_hub_order(
    source: str, hub_orders: Iterable[HubOrder | Mapping[str, Any]]
) -> str | None:
    """The GID of the (oldest) hub order carrying `source` as tag, sourceIdentifier or
    `shopsync_source` attribute; None when none does.

    Pass orders read index-free (`orders_recent_hub` pages, `orders_by_ids`), never the result
    of a `source_identifier:` search: a just-created order may not be indexed yet.
    """
    return (hub_orders_by_source(hub_orders).get(source) or [None])[0]
