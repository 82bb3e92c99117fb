"""Each store says how it authenticates (FACTS §10.1), validated at load time."""
# ruff: noqa: S105, S106 (env var names, not secrets)

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from resources.registry import (
    DEFAULT_REGISTRY_PATH,
    AccessTokenAuth,
    AuthorizationCodeAuth,
    ClientCredentialsAuth,
    RegistryError,
    parse_registry,
)

RAW = yaml.safe_load(DEFAULT_REGISTRY_PATH.read_text())
APP = {"client_id_env": "SHOPSYNC_APP_CLIENT_ID", "client_secret_env": "SHOPSYNC_APP_CLIENT_SECRET"}


def registry_with(mutate):
    raw = copy.deepcopy(RAW)
    mutate(raw)
    return parse_registry(raw, Path("test.yaml"))


def problems_for(mutate) -> list[str]:
    with pytest.raises(RegistryError) as exc:
        registry_with(mutate)
    return exc.value.problems


def _set_auth(index: int, auth: dict):
    def mutate(raw):
        entry = raw["retailers"][index]
        entry.pop("token_env", None)
        entry["auth"] = auth

    return mutate


def test_legacy_token_env_is_the_access_token_kind():
    store = registry_with(lambda raw: None).retailer("nationwide-plants")
    assert store.auth == AccessTokenAuth(token_env="SHOPSYNC_TOKEN_NATIONWIDE_PLANTS")
    assert store.token_env == "SHOPSYNC_TOKEN_NATIONWIDE_PLANTS"
    assert store.secret_envs() == ["SHOPSYNC_TOKEN_NATIONWIDE_PLANTS"]


def test_explicit_access_token_kind_fills_token_env():
    registry = registry_with(_set_auth(0, {"kind": "access_token", "token_env": "SHOPSYNC_T_NW"}))
    assert registry.retailer("nationwide-plants").token_env == "SHOPSYNC_T_NW"


def test_oauth_kinds_parse_and_share_one_app():
    def mutate(raw):
        _set_auth(0, {"kind": "client_credentials", **APP})(raw)
        _set_auth(1, {"kind": "authorization_code", "expiring": True, **APP})(raw)
        _set_auth(2, {"kind": "authorization_code", "scopes": ["read_orders"], **APP})(raw)

    registry = registry_with(mutate)
    cc, code, narrow = registry.retailers[:3]
    assert isinstance(cc.auth, ClientCredentialsAuth) and cc.token_env is None
    assert isinstance(code.auth, AuthorizationCodeAuth) and code.auth.expiring
    assert "write_inventory" in code.auth.scopes and narrow.auth.scopes == ["read_orders"]
    assert code.secret_envs() == ["SHOPSYNC_APP_CLIENT_SECRET"]


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"kind": "password", **APP}, "auth: Input tag 'password' found"),
        ({"kind": "client_credentials", "client_id_env": "SHOPSYNC_APP_CLIENT_ID"},
         "auth.client_credentials.client_secret_env: Field required"),
        ({"kind": "authorization_code", "client_id_env": "abc-123",
          "client_secret_env": "SHOPSYNC_S"}, "never the secret itself"),
        ({"kind": "authorization_code", "scopes": [], **APP}, "at least 1 item"),
    ],
)  # fmt: skip
def test_bad_auth_names_retailer_field_and_fix(auth, expected):
    problems = problems_for(_set_auth(2, auth))
    assert len(problems) == 1, problems
    assert problems[0].startswith("retailer 'epic-gardening': ")
    assert expected in problems[0]


def test_a_store_without_any_auth_is_refused():
    problems = problems_for(lambda raw: raw["retailers"][1].pop("token_env"))
    assert problems == [
        "retailer 'botanical-interests': say how to authenticate: token_env (a legacy admin "
        "token) or auth (kind client_credentials or authorization_code)"
    ]


def test_token_env_and_a_different_auth_conflict():
    def mutate(raw):
        raw["retailers"][1]["auth"] = {"kind": "client_credentials", **APP}

    assert "give either token_env or auth, not both" in problems_for(mutate)[0]
