"""``shopsync simulator``: serve a scenario, or print the shell exports that point at it.

``eval "$(shopsync simulator --scenario config/demo.yaml --port 8765 --print-env)"`` sets
``SHOPSYNC_SHOPIFY_BASE_URL``, every store's token variable, named as the registry names it, and
the app's client id and secret (``SHOPSYNC_APP_CLIENT_ID`` / ``_SECRET`` unless the scenario's
``app:`` names others) for the stores that authenticate with OAuth.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys

from simulator.oauth import AppCredentials
from simulator.scenario import build_stores, load_spec
from simulator.store import IdAllocator

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", required=True, help="scenario YAML (see simulator/README.md)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default loopback)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiply the throttle bucket's restore speed (benchmarks)",
    )
    parser.add_argument(
        "--search-lag", type=float, default=0.0, help="seconds by which query: search trails writes"
    )
    parser.add_argument("--seed", type=int, default=0, help="added to the scenario's seed")
    parser.add_argument(
        "--print-env",
        action="store_true",
        help="print shell exports for this scenario and port, then exit",
    )


def env_lines(scenario: str, host: str, port: int) -> list[str]:
    spec = load_spec(scenario)
    stores = build_stores(spec, ids=IdAllocator(), time_scale=1.0, search_lag=0.0, seed=0)
    lines = [f"export SHOPSYNC_SHOPIFY_BASE_URL={shlex.quote(f'http://{host}:{port}')}"]
    lines += [f"export {s.token_env}={shlex.quote(s.token)}" for s in stores.values()]
    app = AppCredentials.from_spec(spec)
    lines.append(f"export {app.client_id_env}={shlex.quote(app.client_id)}")
    lines.append(f"export {app.client_secret_env}={shlex.quote(app.client_secret)}")
    return lines


def run(args: argparse.Namespace) -> int:
    if args.print_env:
        sys.stdout.write("\n".join(env_lines(args.scenario, args.host, args.port)) + "\n")
        return 0
    from simulator import Simulator

    sim = Simulator(
        args.scenario,
        host=args.host,
        port=args.port,
        time_scale=args.time_scale,
        search_lag_seconds=args.search_lag,
        seed=args.seed,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    log.info(
        "serving %d stores at http://%s:%d (Ctrl-C to stop)", len(sim.stores), args.host, args.port
    )
    for store in sim.stores.values():
        log.info(
            "  %s  plan=%s  token env %s  oauth %s",
            store.domain,
            store.plan,
            store.token_env,
            store.oauth.settings.grant,
        )
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        log.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))
