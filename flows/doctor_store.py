"""The doctor's Shopify checks: tokens, scopes, locations and SKU mappings per store.

Each store is probed once (`probe`: a cheap `shop_info` query, then its granted scopes)
and the procedures judge that probe, so a revoked token is one FAIL with its fix rather
than a cascade of unrelated-looking errors; checks of a store whose token failed are not run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from flows.inventory_reads import skus_at_location
from resources.registry import MissingTokenError, RetailerConfig, StoreConfig
from resources.shopify import ShopifyAuthError, ShopifyClient, ShopifyError, ShopifyResource
from resources.shopify.auth import reauthorize_hint
from sync.doctor import CheckResult, Verdict, missing_scopes
from sync.sku_matching import HubSkus


@dataclass
class StoreProbe:
    store: StoreConfig
    client: ShopifyClient | None = None
    scopes: set[str] = field(default_factory=set)
    token: CheckResult | None = None

    @property
    def ok(self) -> bool:
        return self.client is not None


def _auth_fix(store: StoreConfig) -> str:
    if store.token_env:
        return (
            f"re-authorize the app on {store.shop_domain} and export its Admin API token "
            f"in {store.token_env}"
        )
    return reauthorize_hint(store)


def probe(shopify: ShopifyResource, store: StoreConfig, procedure: str) -> StoreProbe:
    """Open a client and prove the token works; the token result is filed under `procedure`."""
    result = StoreProbe(store)

    def verdict(v: Verdict, detail: str, fix: str | None = None) -> CheckResult:
        return CheckResult(
            procedure=procedure,
            check="token valid",
            verdict=v,
            detail=detail,
            fix=fix,
            store=store.key,
        )

    client = shopify.get_client(store.key)
    try:
        shop = client.execute("shop_info")["shop"]
        granted = client.execute("app_access_scopes")["currentAppInstallation"]["accessScopes"]
    except MissingTokenError as exc:
        client.close()
        result.token = verdict(Verdict.FAIL, str(exc), _auth_fix(store))
        return result
    except ShopifyAuthError as exc:
        client.close()
        why = (
            f"{store.shop_domain} answered 401: the token is wrong or revoked"
            if exc.code == "HTTP_401"
            else f"no usable {store.auth.kind} token ({exc.code})"
        )
        result.token = verdict(
            Verdict.FAIL, f"{why} (this store's other checks skipped)", _auth_fix(store)
        )
        return result
    except ShopifyError as exc:
        client.close()
        result.token = verdict(
            Verdict.FAIL,
            f"{store.shop_domain} unreachable: {exc.detail}",
            f"check shop_domain of '{store.key}' in the registry and that the store is open",
        )
        return result
    result.client, result.scopes = client, {s["handle"] for s in granted}
    result.token = verdict(
        Verdict.PASS, f"shop '{shop['name']}' answers ({shop['myshopifyDomain']})"
    )
    return result


def scope_check(procedure: str, p: StoreProbe, required: tuple[str, ...]) -> CheckResult:
    missing = missing_scopes(p.scopes, required)
    key = p.store.key
    if missing:
        return CheckResult(
            procedure=procedure,
            check="access scopes",
            verdict=Verdict.FAIL,
            store=key,
            detail=f"{p.store.shop_domain} lacks {', '.join(missing)}",
            fix=f"grant {', '.join(missing)} to the app on {p.store.shop_domain} and "
            "re-authorize it (the token keeps its old scopes until then)",
        )
    return CheckResult(
        procedure=procedure,
        check="access scopes",
        verdict=Verdict.PASS,
        detail=f"has {', '.join(required)}",
        store=key,
    )


def location_check(
    procedure: str, p: StoreProbe, location_id: str, field_name: str, *, fulfils: bool = False
) -> CheckResult:
    """The configured location exists at the store and is active (and, for fulfillment
    push, takes online orders, so fulfillment orders are assigned to it)."""
    assert p.client is not None
    where = f"{p.store.shop_domain} {field_name} {location_id}"

    def result(v: Verdict, detail: str, fix: str | None = None) -> CheckResult:
        return CheckResult(
            procedure=procedure,
            check=f"location {field_name}",
            verdict=v,
            detail=detail,
            fix=fix,
            store=p.store.key,
        )

    location = p.client.execute("location_by_id", {"id": location_id}).get("location")
    if location is None:
        known = [
            f"{n['id']} ({n['name']})"
            for n in p.client.paginate("locations", {}, ("locations",))
            if n["isActive"]
        ]
        return result(
            Verdict.FAIL,
            f"{where} does not exist (active: {', '.join(known) or 'none'})",
            f"set {field_name} of '{p.store.key}' in the registry to one of its active locations",
        )
    if not location["isActive"]:
        return result(
            Verdict.FAIL,
            f"{where} ({location['name']}) is deactivated",
            f"reactivate '{location['name']}' on {p.store.shop_domain} or point {field_name} at "
            "an active location",
        )
    if fulfils and not location["fulfillsOnlineOrders"]:
        return result(
            Verdict.WARN,
            f"{where} ({location['name']}) does not fulfil online orders",
            f"turn on 'Fulfil online orders' for '{location['name']}' on {p.store.shop_domain}",
        )
    return result(Verdict.PASS, f"{location_id} ({location['name']}) is active")


def store_skus(p: StoreProbe, location_id: str) -> list[str]:
    assert p.client is not None
    return skus_at_location(p.client, location_id)


def sku_check(hub_skus: HubSkus, p: StoreProbe, retailer: RetailerConfig) -> CheckResult:
    """Which hub SKUs the retailer carries, and SKUs it has on more than one variant
    (inventory cannot tell which variant to set)."""
    skus = store_skus(p, retailer.hub_location_id)
    matched = {
        m.hub_sku
        for s in skus
        if (m := hub_skus.match(s, retailer.sku_matching, retailer.key)).matched
    }
    dupes = sorted(s for s, n in Counter(skus).items() if n > 1)

    def result(v: Verdict, detail: str, fix: str | None = None) -> CheckResult:
        return CheckResult(
            procedure="inventory_sync",
            check="SKU mappings",
            verdict=v,
            detail=detail,
            fix=fix,
            store=retailer.key,
        )

    found = f"{len(matched)} of {len(hub_skus.exact)} hub SKUs found at {retailer.shop_domain}"
    if dupes:
        return result(
            Verdict.WARN,
            f"{found}; on more than one variant: {', '.join(dupes[:10])}",
            f"give each variant of {', '.join(dupes[:3])} on {retailer.shop_domain} its own SKU",
        )
    if not matched:
        return result(
            Verdict.WARN,
            f"{found}: nothing would sync",
            f"set the hub's SKUs on the variants of {retailer.shop_domain} (or sku_matching)",
        )
    return result(Verdict.PASS, found)
