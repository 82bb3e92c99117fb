"""Onboarding rules (issue 11): the hub-location proposal, the SKU match rate, the entry
and how it is appended to a registry file without losing a comment."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from resources.registry import DEFAULT_REGISTRY_PATH, parse_registry
from sync.onboarding import (
    PLACEHOLDER,
    RegistryTextError,
    append_retailer,
    billing_from_shop,
    default_key,
    pick_location,
    propose_hub_location,
    registry_entry,
    sku_report,
)


def loc(gid: int, name: str, active: bool = True) -> dict:
    return {"id": f"gid://shopify/Location/{gid}", "name": name, "isActive": active}


def test_location_named_for_the_hub_store_wins_over_a_generic_hub_word():
    locations = [loc(1, "Main Hub Store"), loc(2, "Greenhouse Hub (drop-ship)"), loc(3, "Shop")]
    choice = propose_hub_location(locations, "Greenhouse Hub")
    assert choice.location["id"].endswith("/2")


def test_drop_ship_location_proposed_when_no_name_matches_the_hub():
    choice = propose_hub_location([loc(1, "Downtown"), loc(2, "Drop-ship partner")], "Acme")
    assert choice.location["name"] == "Drop-ship partner"
    assert "drop-ship" in choice.reason


def test_no_proposal_when_nothing_or_several_locations_qualify_and_inactive_ignored():
    assert propose_hub_location([loc(1, "Downtown"), loc(2, "Airport")], "Acme").location is None
    several = propose_hub_location([loc(1, "Hub East"), loc(2, "Hub West")], "Acme")
    assert several.location is None and len(several.candidates) == 2
    inactive = propose_hub_location([loc(1, "Acme hub", active=False), loc(2, "Shop")], "Acme")
    assert inactive.location is None and [c["name"] for c in inactive.candidates] == ["Shop"]


def test_pick_location_by_gid_or_name_case_insensitive():
    locations = [loc(7, "Greenhouse Hub (drop-ship)")]
    assert pick_location(locations, "gid://shopify/Location/7") is locations[0]
    assert pick_location(locations, "greenhouse hub (DROP-SHIP)") is locations[0]
    assert pick_location(locations, "elsewhere") is None


def test_sku_match_rate_and_missing_list():
    report = sku_report(["A", "B", "C", "D", ""], {"A": [{"id": 1}], "B": [], "C": [{"id": 2}]})
    assert report.hub_total == 4 and report.matched == ["A", "C"]
    assert report.missing == ["B", "D"] and report.rate == 0.5
    assert "2 of 4 hub SKUs found (50%)" in report.describe()
    assert sku_report([], {}).rate == 0.0


def test_billing_from_shop_names_its_placeholders():
    billing, placeholders = billing_from_shop({"name": "Fern & Co"})
    assert billing["company"] == "Fern & Co" and billing["city"] == PLACEHOLDER
    assert placeholders == ["address1", "city", "country_code", "zip"]
    full, none = billing_from_shop(
        {
            "name": "X",
            "billingAddress": {
                "address1": "1 Way",
                "city": "Boise",
                "countryCodeV2": "US",
                "zip": "83702",
            },
        }
    )
    assert none == [] and full["zip"] == "83702"


def _entry(key: str = "fern-co", **auth) -> dict:
    return registry_entry(
        key=key, name="Fern & Co", domain=f"{key}.myshopify.com",
        auth=auth or {"kind": "access_token", "token_env": "SHOPSYNC_TOKEN_FERN_CO"},
        hub_location_id="gid://shopify/Location/9001",
        billing_address=billing_from_shop({"name": "Fern & Co"})[0],
    )  # fmt: skip


def test_entry_has_flows_off_and_legacy_token_as_token_env():
    entry = _entry()
    assert entry["token_env"] == "SHOPSYNC_TOKEN_FERN_CO" and "auth" not in entry  # noqa: S105
    assert entry["flows"] == {"orders": False, "fulfillments": False, "inventory": False}
    app = {"client_id_env": "A_ID", "client_secret_env": "A_SECRET"}  # noqa: S105 - names
    oauth = _entry(kind="client_credentials", **app)
    assert oauth["auth"]["kind"] == "client_credentials" and "token_env" not in oauth


def test_append_keeps_the_example_registry_text_and_validates():
    text = DEFAULT_REGISTRY_PATH.read_text()
    new = append_retailer(text, _entry())
    assert new.startswith(text.rstrip("\n"))  # nothing before was touched, comments included
    registry = parse_registry(yaml.safe_load(new), Path("r.yaml"))
    assert registry.retailers[-1].key == "fern-co"
    assert registry.retailers[-1].flows.orders is False
    assert [r.key for r in registry.retailers[:-1]] == [
        r["key"] for r in yaml.safe_load(text)["retailers"]
    ]


def test_append_inserts_inside_the_retailers_block_when_other_keys_follow():
    text = (
        "# top comment\nhub: {key: hub, name: H, shop_domain: h.myshopify.com, "
        "token_env: T_HUB, location_id: gid://shopify/Location/1}\n"
        "retailers:\n    - key: a  # first\n      name: A\n      shop_domain: a.myshopify.com\n"
        "      token_env: T_A\n      hub_location_id: gid://shopify/Location/2\n"
        "      billing_address: {company: A, address1: x, city: y, country_code: US, zip: '1'}\n"
        "# trailing comment\nnotifications:\n  time_zone: UTC\n"
    )
    new = append_retailer(text, _entry())
    raw = yaml.safe_load(new)
    assert [r["key"] for r in raw["retailers"]] == ["a", "fern-co"]
    assert raw["notifications"] == {"time_zone": "UTC"}
    assert "# top comment" in new and "# first" in new and "# trailing comment" in new
    parse_registry(raw, Path("r.yaml"))


def test_append_refuses_a_flow_style_retailers_list():
    with pytest.raises(RegistryTextError):
        append_retailer("hub: {}\nretailers: [{key: a}]\n", _entry())


def test_default_key_is_the_domain_first_label():
    assert default_key("fern-co.myshopify.com") == "fern-co"
