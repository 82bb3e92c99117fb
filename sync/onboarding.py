"""Onboarding rules: which location is the hub's, how much of the hub catalogue a new
retailer carries, and the registry entry written for it.

Pure functions over what the stores answered, so `shopsync retailers add` can be judged
in milliseconds. The entry is written with every flow off: an onboarded store only
starts syncing when the operator has read the report and turned its flows on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

#: Words that mark a retailer location as the hub's (besides the hub store's own name).
HUB_WORDS = ("drop-ship", "dropship", "drop ship", "hub")

#: Billing fields shop info cannot give; written as obvious placeholders to be edited.
PLACEHOLDER = "EDIT-ME"
_PLACEHOLDER_BILLING = {"address1": PLACEHOLDER, "city": PLACEHOLDER, "country_code": "US",
                        "zip": PLACEHOLDER}  # fmt: skip


@dataclass(frozen=True)
class LocationChoice:
    """A proposed hub location, or None with the candidates a person must choose from."""

    location: Mapping[str, Any] | None
    candidates: list[Mapping[str, Any]]
    reason: str


def propose_hub_location(locations: Iterable[Mapping[str, Any]], hub_name: str) -> LocationChoice:
    """The one active location whose name contains the hub store's name, else the one
    containing "drop-ship"/"hub"; None (ask) when there is none or more than one."""
    active = [loc for loc in locations if loc.get("isActive", True)]
    name = hub_name.strip().lower()
    by_hub = [loc for loc in active if name and name in str(loc["name"]).lower()]
    if len(by_hub) == 1:
        return LocationChoice(by_hub[0], active, f"its name contains the hub's name '{hub_name}'")
    pool = by_hub or active
    by_word = [loc for loc in pool if any(w in str(loc["name"]).lower() for w in HUB_WORDS)]
    if len(by_word) == 1:
        return LocationChoice(by_word[0], active, "its name says drop-ship/hub")
    why = (
        "several locations look like the hub's"
        if by_word or by_hub
        else "no location is named for the hub"
    )
    return LocationChoice(None, active, why)


def pick_location(locations: Iterable[Mapping[str, Any]], wanted: str) -> Mapping[str, Any] | None:
    """The location named `wanted` by GID, or by name (case-insensitive)."""
    for loc in locations:
        if loc["id"] == wanted or str(loc["name"]).lower() == wanted.strip().lower():
            return loc
    return None


@dataclass(frozen=True)
class SkuReport:
    """How many hub SKUs the retailer sells under the same SKU."""

    hub_total: int
    matched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.matched) / self.hub_total if self.hub_total else 0.0

    def describe(self, limit: int = 10) -> str:
        text = f"{len(self.matched)} of {self.hub_total} hub SKUs found ({self.rate:.0%})"
        if self.missing:
            shown = ", ".join(self.missing[:limit])
            more = f" and {len(self.missing) - limit} more" if len(self.missing) > limit else ""
            text += f"; not at the retailer: {shown}{more}"
        return text


def sku_report(hub_skus: Iterable[str], found: Mapping[str, list[Any]]) -> SkuReport:
    """`found`: the retailer's variants per hub SKU (as `variants_by_sku` answers)."""
    skus = sorted({s for s in hub_skus if s})
    matched = [s for s in skus if found.get(s)]
    return SkuReport(len(skus), matched, [s for s in skus if not found.get(s)])


def default_key(domain: str) -> str:
    return domain.removesuffix(".myshopify.com")


def billing_from_shop(shop: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """A billing address from shop info and the fields left as placeholders to edit."""
    billing: dict[str, str] = {"company": str(shop.get("name") or PLACEHOLDER)}
    address = shop.get("billingAddress") or {}
    known = {"address1": address.get("address1"), "city": address.get("city"),
             "province_code": address.get("provinceCode"),
             "country_code": address.get("countryCodeV2"), "zip": address.get("zip")}  # fmt: skip
    placeholders = [] if shop.get("name") else ["company"]
    for name, value in known.items():
        if value:
            billing[name] = str(value)
        elif name in _PLACEHOLDER_BILLING:
            billing[name] = _PLACEHOLDER_BILLING[name]
            placeholders.append(name)
    return billing, placeholders


def registry_entry(
    *,
    key: str,
    name: str,
    domain: str,
    auth: Mapping[str, Any],
    hub_location_id: str,
    billing_address: Mapping[str, str],
) -> dict[str, Any]:
    """The retailer's registry entry; a legacy token as `token_env`, flows all off."""
    entry: dict[str, Any] = {"key": key, "name": name, "shop_domain": domain}
    if auth.get("kind") == "access_token":
        entry["token_env"] = auth["token_env"]
    else:
        entry["auth"] = dict(auth)
    entry["hub_location_id"] = hub_location_id
    entry["billing_address"] = dict(billing_address)
    entry["flows"] = {"orders": False, "fulfillments": False, "inventory": False}
    return entry


class RegistryTextError(ValueError):
    """The registry file's layout leaves no place to append a retailer as text."""


def append_retailer(text: str, entry: Mapping[str, Any]) -> str:
    """The registry text with `entry` added at the end of its block-style `retailers:`
    list; everything else (comments included) is kept as it was."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.rstrip() == "retailers:"), None)
    if start is None:
        raise RegistryTextError("no block-style 'retailers:' list at the top level")
    end = start + 1
    last = start
    while end < len(lines):
        line = lines[end]
        if line.strip() and not line[0].isspace() and not line.startswith("#"):
            break
        if line.strip() and not line.lstrip().startswith("#"):
            last = end
        end += 1
    indent = _item_indent(lines[start + 1 : last + 1])
    body = yaml.safe_dump([dict(entry)], sort_keys=False, default_flow_style=False, width=100)
    block = "".join(indent + ln if ln.strip() else ln for ln in body.splitlines(keepends=True))
    head = "".join(lines[: last + 1])
    if head and not head.endswith("\n"):
        head += "\n"
    return head + "\n" + block + "".join(lines[last + 1 :])


def _item_indent(block: list[str]) -> str:
    for line in block:
        stripped = line.lstrip()
        if stripped.startswith("- "):
            return line[: len(line) - len(stripped)]
    return "  "
