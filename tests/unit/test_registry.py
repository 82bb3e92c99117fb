"""The registry fails at load time, one message per problem, naming retailer and field."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from resources.registry import (
    DEFAULT_REGISTRY_PATH,
    MissingTokenError,
    RegistryError,
    load_registry,
    parse_registry,
)

RAW = yaml.safe_load(DEFAULT_REGISTRY_PATH.read_text())


def problems_for(mutate) -> list[str]:
    raw = copy.deepcopy(RAW)
    mutate(raw)
    with pytest.raises(RegistryError) as exc:
        parse_registry(raw, Path("test.yaml"))
    return exc.value.problems


def test_demo_registry_has_hub_and_four_retailers():
    registry = load_registry()
    assert registry.hub.shop_domain == "greenhouse-hub.myshopify.com"
    assert [r.name for r in registry.retailers] == [
        "Nationwide Plants",
        "Botanical Interests",
        "Epic Gardening",
        "Test Retail Store",
    ]


def test_defaults_apply():
    retailer = load_registry().retailer("nationwide-plants")
    assert (retailer.lookback_hours.orders, retailer.lookback_hours.fulfillments) == (6, 24)
    assert retailer.safety_stock == 0
    assert retailer.flows.orders and retailer.flows.fulfillments and retailer.flows.inventory


def test_overrides_apply():
    registry = load_registry()
    assert registry.retailer("epic-gardening").lookback_hours.orders == 12
    assert registry.retailer("botanical-interests").safety_stock == 2
    assert [r.key for r in registry.enabled_retailers("inventory")] == [
        "nationwide-plants",
        "botanical-interests",
        "epic-gardening",
        "test-retail-store",
    ]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (
            "shop_domain",
            "epic.example.com",
            "retailer 'epic-gardening': shop_domain: 'epic.example.com' is not a shop domain",
        ),
        ("token_env", "shpat_123abc", "retailer 'epic-gardening': token_env: give the NAME"),
        (
            "hub_location_id",
            "4001",
            "retailer 'epic-gardening': hub_location_id: '4001' is not a location GID",
        ),
        ("hub_location_id", "gid://shopify/Product/4001", "is not a location GID"),
        (
            "safety_stock",
            -1,
            "retailer 'epic-gardening': safety_stock: Input should be greater than or equal to 0",
        ),
        (
            "notify",
            ["not-an-email"],
            "retailer 'epic-gardening': notify: not an email address: not-an-email",
        ),
        ("key", "Epic Gardening", "retailer 'Epic Gardening': key: use lower-case letters"),
        ("flows", {"orders": "sometimes"}, "retailer 'epic-gardening': flows.orders"),
        ("lookback_hours", {"orders": -2}, "retailer 'epic-gardening': lookback_hours.orders"),
        ("colour", "green", "retailer 'epic-gardening': colour: unknown field"),
    ],
)
def test_each_rule_names_retailer_and_field(field, value, expected):
    problems = problems_for(lambda raw: raw["retailers"][2].__setitem__(field, value))
    assert len(problems) == 1
    assert expected in problems[0]


def test_billing_address_is_required_and_checked():
    problems = problems_for(
        lambda raw: raw["retailers"][0]["billing_address"].update(country_code="usa")
    )
    assert problems == [
        "retailer 'nationwide-plants': billing_address.country_code: "
        "String should match pattern '^[A-Z]{2}$'"
    ]
    problems = problems_for(lambda raw: raw["retailers"][0].pop("billing_address"))
    assert problems == ["retailer 'nationwide-plants': billing_address: Field required"]


def test_every_problem_reported_at_once():
    def break_many(raw):
        raw["hub"]["location_id"] = "nope"
        raw["retailers"][0]["shop_domain"] = "bad"
        raw["retailers"][1]["hub_location_id"] = "bad"

    problems = problems_for(break_many)
    assert len(problems) == 3
    assert problems[0].startswith("hub: location_id")


def test_duplicate_domains_and_token_envs_rejected():
    def dup(raw):
        raw["retailers"][1]["shop_domain"] = raw["retailers"][0]["shop_domain"]
        raw["retailers"][1]["token_env"] = raw["retailers"][0]["token_env"]

    (problem,) = problems_for(dup)
    assert "shop_domain 'nationwide-plants.myshopify.com' is used by more than one store" in problem
    assert "token_env 'SHOPSYNC_TOKEN_NATIONWIDE_PLANTS'" in problem


def test_unknown_time_zone_rejected():
    (problem,) = problems_for(lambda raw: raw["notifications"].update(time_zone="Mars/Olympus"))
    assert "unknown time zone 'Mars/Olympus'" in problem


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(RegistryError, match="file not found"):
        load_registry(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("hub: [unclosed")
    with pytest.raises(RegistryError, match="not valid YAML"):
        load_registry(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(RegistryError, match="must be a mapping"):
        load_registry(empty)


def test_token_read_at_call_time_and_never_echoed(monkeypatch):
    store = load_registry().store("epic-gardening")
    monkeypatch.delenv(store.token_env, raising=False)
    with pytest.raises(MissingTokenError, match="SHOPSYNC_TOKEN_EPIC_GARDENING is not set"):
        store.token()
    monkeypatch.setenv(store.token_env, "shpat_secret_value")
    assert store.token() == "shpat_secret_value"
    assert "shpat_secret_value" not in repr(store)


def test_billing_address_as_mailing_address_input():
    address = load_registry().retailer("nationwide-plants").billing_address
    assert address.as_mailing_address_input() == {
        "company": "Nationwide Plants LLC",
        "address1": "100 Fern Way",
        "city": "Portland",
        "provinceCode": "OR",
        "countryCode": "US",
        "zip": "97201",
    }
