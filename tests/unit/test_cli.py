"""The CLI lists its commands and turns registry problems into exit status 2."""

from __future__ import annotations

import pytest

from pipelines.cli import EXIT_CONFIG_ERROR, build_parser, main


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    for command in ("ui", "simulator", "migrate", "check-config"):
        assert command in out


def test_malformed_registry_exits_2_with_per_field_message(tmp_path, capsys):
    bad = tmp_path / "r.yaml"
    bad.write_text(
        "hub: {name: Hub, shop_domain: hub.myshopify.com, token_env: HUB_TOKEN,"
        " location_id: 'gid://shopify/Location/1'}\n"
        "retailers:\n  - {key: shop-a, name: A, shop_domain: a.example.com, token_env: A_TOKEN,"
        " hub_location_id: 'Location/9', billing_address: {company: A, address1: x, city: y,"
        " country_code: US, zip: '1'}}\n"
    )
    assert main(["--registry", str(bad), "check-config"]) == EXIT_CONFIG_ERROR
    err = capsys.readouterr().err
    assert "retailer 'shop-a': shop_domain: 'a.example.com' is not a shop domain" in err
    assert "retailer 'shop-a': hub_location_id: 'Location/9' is not a location GID" in err


def test_valid_registry_exits_0(capsys):
    assert main(["check-config"]) == 0
    assert "4 retailers" in capsys.readouterr().out


def test_registry_option_is_the_one_path_every_process_reads(tmp_path, capsys):
    """`shopsync --registry X ui|demo` must not validate X and then run on the default
    file: the option becomes $SHOPSYNC_REGISTRY, which the definitions, resources and
    run workers the command starts all read."""
    import os

    from pipelines.resources import build_resources
    from resources.registry import DEFAULT_REGISTRY_PATH, RegistryResource

    copy = tmp_path / "mine.yaml"
    copy.write_text(DEFAULT_REGISTRY_PATH.read_text().replace("Nationwide Plants", "Mine"))
    assert main(["--registry", str(copy), "check-config"]) == 0
    assert os.environ["SHOPSYNC_REGISTRY"] == str(copy.resolve())
    assert RegistryResource().get().retailer("nationwide-plants").name == "Mine"
    resources = build_resources()
    assert resources["shopify"].registry.get().retailer("nationwide-plants").name == "Mine"
