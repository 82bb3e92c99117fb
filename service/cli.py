"""`shopsync serve [--host H] [--port P] [--public-url URL]`: run the install service.

pipelines/cli.py adds the sub-command with `add_serve_arguments` and runs `run_serve`;
configuration problems exit 2 with one line naming the fix, before the port is opened.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from resources.registry import RegistryError, load_registry
from service.settings import PUBLIC_URL_ENV

EXIT_CONFIG_ERROR = 2


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--public-url",
        help=f"how merchants reach this service (default ${PUBLIC_URL_ENV}, else "
        "http://HOST:PORT); its /auth/callback must be an allowed redirect URL of the app",
    )


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.app import build_app
    from service.settings import ServiceSettings

    registry = getattr(args, "registry", None)
    public_url = (
        args.public_url or os.environ.get(PUBLIC_URL_ENV) or f"http://{args.host}:{args.port}"
    )
    try:
        load_registry(registry)
        settings = ServiceSettings.from_env(public_url=public_url, registry_path=registry)
    except (RegistryError, ValueError) as exc:
        print(f"shopsync serve: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    logging.getLogger("service").setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    print(f"install links: {settings.public_url}/install?shop=SHOP.myshopify.com")
    print(f"allowed redirect URL to register with the app: {settings.redirect_uri}")
    # access_log off: uvicorn would log each callback's query (code, hmac, state); the
    # app logs method, path and status instead (service.app.PathOnlyAccessLog).
    uvicorn.run(
        build_app(settings), host=args.host, port=args.port, log_level="info", access_log=False
    )
    return 0
