"""`shopsync retailers add DOMAIN`: onboard a retailer store in one command.

Connects with the chosen auth kind, proposes the hub location, reports how much of the
hub catalogue the store carries and which scopes it lacks, then appends a validated
registry entry with every flow off and says what to do next. Nothing is written when
the store cannot be reached or the new registry would not validate.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from flows import onboarding as steps
from resources.registry import AuthorizationCodeAuth, RegistryResource, load_registry, registry_path
from resources.shopify import ShopifyError, ShopifyResource
from service.settings import PUBLIC_URL_ENV
from sync.onboarding import (
    LocationChoice,
    RegistryTextError,
    billing_from_shop,
    default_key,
    pick_location,
    propose_hub_location,
    registry_entry,
)

EXIT_FAILED = 1
EXIT_CONFIG_ERROR = 2
AUTH_KINDS = ("access_token", "client_credentials", "authorization_code")


def add_retailers_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="retailers_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="connect a new retailer store and append its registry entry")
    add.add_argument("domain", metavar="DOMAIN", help="the store, e.g. my-store.myshopify.com")
    add.add_argument("--key", help="registry key (default: the domain's first label)")
    add.add_argument("--name", help="display name (default: the shop's name)")
    add.add_argument("--auth", choices=AUTH_KINDS, default="access_token")
    add.add_argument("--token-env", help="env var holding a legacy admin token (access_token)")
    add.add_argument("--client-id-env", help="env var holding the app's client id (OAuth kinds)")
    add.add_argument("--client-secret-env", help="env var holding the app's client secret")
    add.add_argument("--hub-location", help="the hub location's name or GID (else proposed)")
    add.add_argument("--yes", action="store_true", help="accept the proposals, ask nothing")
    add.add_argument("--serve-url", help=f"where `shopsync serve` is reached (default "
                     f"${PUBLIC_URL_ENV}, else http://127.0.0.1:8080)")  # fmt: skip


def _auth(args: argparse.Namespace, key: str) -> dict[str, Any]:
    if args.auth == "access_token":
        env = args.token_env or "SHOPSYNC_TOKEN_" + key.upper().replace("-", "_")
        return {"kind": "access_token", "token_env": env}
    if not (args.client_id_env and args.client_secret_env):
        raise ValueError(f"--auth {args.auth} needs --client-id-env and --client-secret-env")
    auth = {"kind": args.auth, "client_id_env": args.client_id_env,
            "client_secret_env": args.client_secret_env}  # fmt: skip
    return auth


def run_retailers(args: argparse.Namespace, ask: Callable[[str], str] | None = None) -> int:
    if args.retailers_command == "add":
        return run_add(args, ask or input)
    return EXIT_CONFIG_ERROR  # pragma: no cover - argparse requires an action


def run_add(args: argparse.Namespace, ask: Callable[[str], str]) -> int:
    path = registry_path(getattr(args, "registry", None))
    registry = load_registry(path)
    domain = args.domain.strip().lower()
    key = args.key or default_key(domain)
    clash = steps.already_registered(registry, key, domain)
    if clash:
        print(f"shopsync retailers add: {clash} in {path}; nothing written", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    try:
        store = steps.candidate_store(key, args.name or key, domain, _auth(args, key))
    except ValueError as exc:
        print(f"shopsync retailers add: {domain}: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    if steps.needs_install(store):
        steps.await_install(store)
        base = args.serve_url or os.environ.get(PUBLIC_URL_ENV) or "http://127.0.0.1:8080"
        print(f"{domain} has not installed the app yet. With `shopsync serve` running, have the "
              f"merchant open:\n  {base.rstrip('/')}/install?shop={domain}\n"
              "then run this again once installed.")  # fmt: skip
        return 0
    shopify = ShopifyResource(registry=RegistryResource(path=str(path)))
    try:
        hub_key = registry.hub.key
        with steps.client_for(shopify, store) as client, shopify.get_client(hub_key) as hub:
            facts = steps.read_store(client)
            print(f"connected to '{facts.shop['name']}' ({domain}) by {store.auth.kind}")
            location = _choose_location(args, facts.locations, registry.hub.name, ask)
            if location is None:
                return EXIT_FAILED
            report = steps.compare_catalogue(client, steps.hub_skus(hub, registry.hub.location_id))
    except ShopifyError as exc:
        print(f"shopsync retailers add: {domain}: {exc}; nothing written", file=sys.stderr)
        return EXIT_FAILED
    print(f"SKUs: {report.describe()}")
    missing = facts.missing_scopes()
    print("scopes: all granted" if not missing else f"scopes missing: {', '.join(missing)} "
          f"(grant them to the app on {domain} and re-authorize)")  # fmt: skip
    billing, placeholders = billing_from_shop(facts.shop)
    entry = registry_entry(key=key, name=args.name or str(facts.shop["name"]), domain=domain,
                           auth=store.auth.model_dump(), hub_location_id=str(location["id"]),
                           billing_address=billing)  # fmt: skip
    try:
        text, _ = steps.new_registry_text(path, entry, registry)
    except (ValueError, RegistryTextError) as exc:
        print(f"shopsync retailers add: {exc}; nothing written", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    steps.write_registry(path, text)
    if isinstance(store.auth, AuthorizationCodeAuth):
        steps.installed(store)
    _next_steps(path, key, placeholders, report.rate)
    return 0


def _choose_location(
    args: argparse.Namespace, locations: list[dict], hub_name: str, ask: Callable[[str], str]
) -> dict | None:
    if args.hub_location:
        found = pick_location(locations, args.hub_location)
        if found is None:
            print(f"shopsync retailers add: {args.domain} has no location '{args.hub_location}' "
                  f"(has: {_names(locations)})", file=sys.stderr)  # fmt: skip
        return dict(found) if found else None
    choice: LocationChoice = propose_hub_location(locations, hub_name)
    if choice.location is not None:
        print(f"hub location: {choice.location['name']} ({choice.location['id']}): {choice.reason}")
        if args.yes or ask("use it? [Y/n] ").strip().lower() in ("", "y", "yes"):
            return dict(choice.location)
    elif args.yes:
        print(f"shopsync retailers add: {args.domain}: {choice.reason}; pass --hub-location "
              f"(one of: {_names(choice.candidates)})", file=sys.stderr)  # fmt: skip
        return None
    for i, loc in enumerate(choice.candidates, 1):
        print(f"  {i}. {loc['name']} ({loc['id']})")
    answer = ask("which location ships for the hub? number, name or GID: ").strip()
    if answer.isdigit() and 1 <= int(answer) <= len(choice.candidates):
        return dict(choice.candidates[int(answer) - 1])
    found = pick_location(choice.candidates, answer)
    if found is None:
        print(f"shopsync retailers add: no location '{answer}'; nothing written", file=sys.stderr)
    return dict(found) if found else None


def _names(locations: list) -> str:
    return ", ".join(f"{loc['name']} ({loc['id']})" for loc in locations) or "none"


def _next_steps(path: os.PathLike, key: str, placeholders: list[str], rate: float) -> None:
    print(f"added retailer '{key}' to {path} with every flow off.")
    if placeholders:
        print(f"  edit billing_address of '{key}': {', '.join(placeholders)} are placeholders "
              "(EDIT-ME / US); hub orders use this address")  # fmt: skip
    if rate < 1:
        print("  SKUs the retailer lacks are not synced; add them there or accept the gap")
    print(f"  then set flows.orders / fulfillments / inventory of '{key}' to true, and run "
          f"`shopsync doctor --retailer {key}`")  # fmt: skip
