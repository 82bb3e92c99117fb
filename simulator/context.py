"""What a resolver knows about the request it serves, and the shared read helpers."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from graphql import GraphQLResolveInfo

from simulator.indexing import ATTRS, SYNONYMS
from simulator.search import parse_search, search_extension
from simulator.store import IdAllocator, Store
from simulator.versions import Features


@dataclass
class RequestContext:
    store: Store
    ids: IdAllocator
    version: str
    features: Features
    base_url: str
    now: datetime
    bulk: bool = False
    search_warnings: list[dict[str, Any]] = field(default_factory=list)
    bulk_runner: Any = None  # simulator.bulk.BulkRunner


def ctx(info: GraphQLResolveInfo) -> RequestContext:
    return info.context


def money_bag(amount: Decimal, currency: str) -> dict[str, Any]:
    money = {"amount": amount, "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": money}


def search(
    info: GraphQLResolveInfo, kind: str, records: Iterable[Any], query: str | None
) -> list[Any]:
    """Filter ``records`` by a Shopify search string, reading the lagging index.

    Unknown fields are dropped by the parser and reported in ``extensions.search``.
    """
    if not query:
        return list(records)
    exact = _EXACT_SKU.match(query)
    if exact:  # one exact SKU (a per-SKU look-up): compare it before the full filter
        records = [r for r in records if getattr(r, "sku", None) == exact[1]]
    context = ctx(info)
    attrs_fn, allowed = ATTRS[kind]
    flt = parse_search(query, allowed, synonyms=SYNONYMS.get(kind))
    if flt.warnings:
        context.search_warnings.append(search_extension(info.path.as_list(), query, flt))
    index = context.store.index
    out = []
    for record in records:
        seen = index.view(kind, record.id, lambda r=record: attrs_fn(r))
        if seen is not None and flt.matches(seen):
            out.append(record)
    return out


#: `sku:X` or `sku:"X"` alone: candidates are narrowed by plain comparison first (the
#: filter below still decides, through the lagging index), so per-SKU look-ups over a
#: large catalogue cost one pass of string compares, not one index read per record.
_EXACT_SKU = re.compile(r'^sku:"?([^"\s]+)"?$')


def fo_visible(order: Any) -> bool:
    """Fulfillment orders appear when routing has finished, shortly after orderCreate."""
    return time.time() >= order.fo_visible_at
