"""The ``/_sim`` admin API: state, counters, faults, actors and reset, as plain JSON.

Tests and benchmarks in another process use it; in-process code calls the ``Simulator``
methods it wraps. No Shopify token: the server accepts these from loopback only.
"""

from __future__ import annotations

import re
from typing import Any

from simulator.snapshot import store_summary

STORE_ROUTE = re.compile(
    r"^/_sim/stores/([^/]+)/(state|counters|faults|bucket|inventory|order|oauth(?:/\w+)?)$"
)
#: After-import order changes (simulator/actors_changes.py), by route.
CHANGE_ROUTES = {
    "/_sim/actors/shopper/cancel": "shopper_cancel",
    "/_sim/actors/shopper/edit": "shopper_edit",
    "/_sim/actors/shopper/refund": "shopper_refund",
    "/_sim/actors/warehouse/cancel": "warehouse_cancel",
    "/_sim/actors/warehouse/close-incomplete": "warehouse_close_incomplete",
}


def handle_admin(sim: Any, method: str, path: str, payload: dict[str, Any]) -> tuple[int, Any]:
    path = path.split("?", 1)[0].rstrip("/")
    try:
        if method == "GET" and path == "/_sim/stores":
            return 200, {
                "stores": [store_summary(s) for s in sim.stores.values()],
                "base_url": sim.base_url,
            }
        if method == "POST" and path == "/_sim/reset":
            sim.reset()
            return 200, {"ok": True}
        if method == "POST" and path == "/_sim/actors/warehouse":
            return 200, sim.run_warehouse(**payload)
        if method == "POST" and path == "/_sim/actors/shopper":
            return 200, sim.run_shopper(**payload)
        if method == "POST" and path in CHANGE_ROUTES:
            return 200, getattr(sim, CHANGE_ROUTES[path])(**payload)
        match = STORE_ROUTE.match(path)
        if match:
            return _store_route(sim, method, match[1], match[2], payload)
    except KeyError as exc:
        return 404, {"errors": str(exc.args[0]) if exc.args else "not found"}
    except (TypeError, ValueError) as exc:
        return 400, {"errors": str(exc)}
    return 404, {"errors": f"no admin route {method} {path}"}


def _store_route(sim: Any, method: str, domain: str, what: str, payload: dict[str, Any]) -> Any:
    store = sim.store(domain)
    if what == "state" and method == "GET":
        return 200, sim.state(domain)  # due cancel jobs run first
    if what == "counters" and method == "GET":
        return 200, store.counters_dict()
    if what == "faults":
        if method == "POST":
            if payload.pop("clear", False):
                store.faults.clear()
            store.faults.update(**payload)
        return 200, store.faults.as_dict()
    if what == "inventory" and method == "POST":
        if "levels" in payload:  # many at once: [{sku, location (GID), available}, …]
            from simulator.actors import set_inventory_many

            return 200, {"changed": set_inventory_many(store, payload["levels"])}
        return 200, {"levels": sim.set_inventory(domain, **payload)}
    if what == "order" and method == "POST":  # {"id": GID, "pending_authorization": …}
        if "id" not in payload:
            return 400, {"errors": "give the order's GID as id"}
        return 200, sim.set_order(domain, payload.pop("id"), **payload)
    if what.startswith("oauth"):
        return _oauth_route(store, method, what, payload)
    if what == "bucket":
        if method == "POST":
            store.bucket.reset(payload.get("available"))
        return 200, store.bucket.status()
    return 405, {"errors": f"{method} not allowed on {what}"}


def _oauth_route(store: Any, method: str, what: str, payload: dict[str, Any]) -> Any:
    """Token lifetimes are wall-clock; these let a test reach expiry and revocation now."""
    if what == "oauth" and method == "GET":
        return 200, store.oauth_status()
    if method != "POST":
        return 405, {"errors": f"{method} not allowed on {what}"}
    if what == "oauth/expire":  # {"refresh": true} expires refresh tokens too
        return 200, {"expired": store.expire_access_tokens(refresh=bool(payload.get("refresh")))}
    if what == "oauth/revoke":
        return 200, {"revoked": store.revoke_tokens()}
    if (
        what == "oauth/ttl"
    ):  # {access_token_ttl_seconds, refresh_token_ttl_seconds, code_ttl_seconds}
        return 200, store.set_token_ttl(**payload)
    return 404, {"errors": f"no admin route {method} /_sim/stores/{store.domain}/{what}"}
