"""The `shopsync` command line.

Each command prepares what it needs (database, DAGSTER_HOME) itself, so a fresh
clone needs nothing but `./dev <command>`. Configuration errors exit with
status 2 and one line per problem, before any work starts.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from resources.paths import PROJECT_ROOT
from resources.registry import RegistryError, load_registry

EXIT_CONFIG_ERROR = 2


def _check_config(args: argparse.Namespace) -> int:
    registry = load_registry(args.registry)
    print(
        f"registry OK: hub {registry.hub.shop_domain}, "
        f"{len(registry.retailers)} retailers ({', '.join(registry.store_keys()[1:])})"
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    import psycopg

    from resources.postgres import apply_migrations, database_url

    with psycopg.connect(database_url()) as conn:
        applied = apply_migrations(conn)
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    return 0


def _ui(args: argparse.Namespace) -> int:
    from pipelines.instance import DEMO_DAGSTER_DATABASE, demo_dagster_home, prepare_dagster_home

    load_registry(args.registry)
    if args.demo:
        # What the demo left: its warehouse and its own instance, so the UI shows exactly
        # the runs whose rows these tables hold.
        from pipelines.demo import DEMO_DATABASE
        from pipelines.demo_auth import demo_folder, ensure_secret_key
        from resources.postgres import database_url, with_database

        server = database_url()
        home = prepare_dagster_home(demo_dagster_home(), DEMO_DAGSTER_DATABASE)
        ensure_secret_key()  # the demo's stored OAuth tokens are encrypted with its key
        if not args.registry and (demo_folder() / "registry.yaml").exists():
            os.environ["SHOPSYNC_REGISTRY"] = str(demo_folder() / "registry.yaml")
        os.environ["SHOPSYNC_DATABASE_URL"] = with_database(server, DEMO_DATABASE)
    else:
        home = prepare_dagster_home()
    print(f"DAGSTER_HOME={home}; starting the Dagster UI on http://127.0.0.1:{args.port}")
    argv = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(PROJECT_ROOT / "workspace.yaml"),
        "-h",
        "127.0.0.1",
        "-p",
        str(args.port),
    ]
    os.chdir(PROJECT_ROOT)
    os.execv(argv[0], argv)  # noqa: S606 - replaces this process with dagster dev
    return 0  # pragma: no cover


def _simulator(args: argparse.Namespace) -> int:
    from simulator.cli import run

    return run(args)


def _add_simulator(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("simulator", help="serve the Shopify Admin API simulator")
    try:
        from simulator.cli import add_arguments
    except ImportError:  # pragma: no cover - the simulator ships with the project
        return
    add_arguments(parser)
    parser.set_defaults(func=_simulator)


def _add_demo(sub: argparse._SubParsersAction) -> None:
    try:
        from pipelines.demo import add_arguments, run
    except ImportError:  # the demo lands with the order flows
        return
    parser = sub.add_parser("demo", help="run a full sync cycle on the embedded defaults")
    add_arguments(parser)
    parser.set_defaults(func=run)


#: Commands whose code lives in its own module: (name, module, add-arguments, run, help);
#: imported when the parser is built, so `shopsync --help` lists them all.
_COMMANDS = [
    ("serve", "service.cli", "add_serve_arguments", "run_serve",
     "serve the OAuth install callback (the authorization-code grant)"),
    ("doctor", "pipelines.doctor", "add_doctor_arguments", "run_doctor",
     "diagnose stores, database and email: PASS/WARN/FAIL with the fix"),
    ("backup", "pipelines.backup_cli", "add_backup_arguments", "run_backup",
     "dump the warehouse database now (pg_dump custom format, with a manifest)"),
    ("restore", "pipelines.backup_cli", "add_restore_arguments", "run_restore",
     "restore a backup (--verify: into a scratch database, checked against its manifest)"),
    ("retailers", "pipelines.onboarding", "add_retailers_arguments", "run_retailers",
     "onboard a retailer store: connect, propose its hub location, write its registry entry"),
]  # fmt: skip


def _add_commands(sub: argparse._SubParsersAction) -> None:
    import importlib

    for name, module_name, add_name, run_name, help_text in _COMMANDS:
        module = importlib.import_module(module_name)
        parser = sub.add_parser(name, help=help_text)
        getattr(module, add_name)(parser)
        parser.set_defaults(func=getattr(module, run_name))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shopsync",
        description="Drop-ship sync between a hub Shopify store and its retailers, on Dagster.",
    )
    parser.add_argument(
        "--registry", help="retailer registry YAML (default: $SHOPSYNC_REGISTRY or the example)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    _add_demo(sub)
    ui = sub.add_parser("ui", help="start the Dagster UI (dagster dev) on Postgres storage")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument(
        "--demo", action="store_true", help="open the instance and warehouse the demo wrote"
    )
    ui.set_defaults(func=_ui)
    _add_simulator(sub)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=_migrate)
    sub.add_parser(
        "check-config", help="validate the retailer registry (exit 2 on problems)"
    ).set_defaults(func=_check_config)
    _add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    func: Callable[[argparse.Namespace], int] = args.func
    if args.registry:
        # One registry path: every process this command starts (Dagster's code server, run
        # workers, the demo's runs) reads the same file through $SHOPSYNC_REGISTRY.
        os.environ["SHOPSYNC_REGISTRY"] = str(Path(args.registry).resolve())
    try:
        return func(args)
    except RegistryError as exc:
        print(f"shopsync: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
