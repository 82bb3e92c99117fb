"""The demo's stores authenticate the three ways a 2026 operator meets (FACTS §10.1).

The simulator's scenario says which grant each store accepts (`oauth.grant`); the demo's
registry is the example registry with each such store's `auth` set to match, so the demo
runs a client-credentials hub, an authorization-code retailer and legacy tokens side by
side. The authorization-code store is installed the way a merchant installs it: through
`shopsync serve`'s own `/install` and `/auth/callback`, with the simulator approving.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

from pipelines.instance import demo_dagster_home
from resources.registry import DEFAULT_REGISTRY_PATH, REGISTRY_ENV, Registry
from resources.secrets import SECRET_KEY_ENV, Cipher

DEMO_PUBLIC_URL = "http://127.0.0.1:8089"


def demo_folder() -> Path:
    folder = demo_dagster_home().parent
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def ensure_secret_key() -> None:
    """The demo's token key: kept beside its instance (mode 0600) so `ui --demo` reads the
    same tokens; an operator's own key in the environment wins."""
    if os.environ.get(SECRET_KEY_ENV):
        return
    path = demo_folder() / "secret.key"
    if not path.exists():
        path.write_text(Cipher.generate_key())
        path.chmod(0o600)
    os.environ[SECRET_KEY_ENV] = path.read_text().strip()


def demo_registry(scenario: dict[str, Any], base: Path = DEFAULT_REGISTRY_PATH) -> Path:
    """Write the demo registry (the example with the scenario's grants) and export it."""
    path = write_oauth_registry(scenario, demo_folder() / "registry.yaml", base)
    os.environ[REGISTRY_ENV] = str(path)
    return path


def write_oauth_registry(scenario: dict[str, Any], path: Path, base: Path) -> Path:
    """`base` with each store whose scenario grant is not a legacy token authenticating by
    that grant (the app's env var names from the scenario's `app`)."""
    app = scenario.get("app") or {}
    names = {
        "client_id_env": app.get("client_id_env", "SHOPSYNC_APP_CLIENT_ID"),
        "client_secret_env": app.get("client_secret_env", "SHOPSYNC_APP_CLIENT_SECRET"),
    }
    grants = {
        s["domain"]: s["oauth"]
        for s in scenario["stores"]
        if (s.get("oauth") or {}).get("grant", "access_token") != "access_token"
    }
    raw = yaml.safe_load(base.read_text())
    for store in [raw["hub"], *raw["retailers"]]:
        oauth = grants.get(store["shop_domain"])
        if oauth is None:
            continue
        store.pop("token_env", None)
        store["auth"] = {"kind": oauth["grant"], **names}
        if oauth["grant"] == "authorization_code":
            store["auth"]["expiring"] = bool(oauth.get("expiring"))
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def export_app_credentials(sim: Any) -> None:
    """What `shopsync simulator --print-env` exports: the one app's id and secret."""
    app = next(iter(sim.stores.values())).oauth.app
    os.environ[app.client_id_env] = app.client_id
    os.environ[app.client_secret_env] = app.client_secret


def install_authorization_code_stores(registry: Registry, say: Callable[[str], None]) -> int:
    """Install every authorization-code store through the service's routes: the operator's
    link, the store's approval (the simulator approves at once), the callback."""
    shops = [s.shop_domain for s in registry.stores() if s.auth.kind == "authorization_code"]
    for shop in install_through_service(shops):
        say(f"installed {shop} by the authorization-code grant (shopsync serve)")
    return len(shops)


def install_through_service(shops: list[str]) -> list[str]:
    """As a merchant's browser does: the service's install link, the store's approval (the
    simulator approves at once), the redirect to the service's callback."""
    from starlette.testclient import TestClient

    from service.app import build_app
    from service.settings import ServiceSettings

    if not shops:
        return []
    settings = ServiceSettings.from_env(public_url=DEMO_PUBLIC_URL)
    with TestClient(build_app(settings), base_url=DEMO_PUBLIC_URL) as service:
        for shop in shops:
            link = service.get(f"/install?shop={shop}", follow_redirects=False)
            if link.status_code != 302:
                raise RuntimeError(f"install of {shop}: HTTP {link.status_code} at /install")
            approval = httpx.get(link.headers["location"], follow_redirects=False)
            callback = urlsplit(approval.headers["location"])
            page = service.get(f"{callback.path}?{callback.query}")
            if page.status_code != 200:
                raise RuntimeError(f"install of {shop}: HTTP {page.status_code} at the callback")
    return shops
