"""The Starlette app of `shopsync serve`: the authorization-code install today, webhook
routes later. Each feature is a *route group* (a function of the shared `ServiceContext`
returning its routes), so a webhook receiver joins by adding one to `ROUTE_GROUPS`."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from resources.postgres import PostgresResource
from resources.registry import AuthorizationCodeAuth, StoreConfig, load_registry
from resources.shopify.oauth import OAuthClient
from service.install import state_key
from service.settings import ServiceSettings
from service.states import InstallStorage, PostgresInstallStorage

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ServiceContext:
    """What every route group shares: settings, storage, the token endpoint."""

    settings: ServiceSettings
    storage: InstallStorage
    oauth: OAuthClient
    clock: Callable[[], datetime] = _utcnow
    state_key: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # The newest key of a comma-separated rotation list signs; a rotation only voids
        # states issued in the last few minutes.
        newest = self.settings.secret_key.get_secret_value().split(",")[0].strip()
        self.state_key = state_key(newest)

    def install_store(self, shop: str | None) -> StoreConfig | None:
        """The store for `shop` if it is installed by authorization code: in the registry,
        or being onboarded by `shopsync retailers add` (a pending install).

        The registry is read per request, so a retailer added to it can install at once.
        """
        registry = load_registry(self.settings.registry_path)
        for store in registry.stores():
            if store.shop_domain == shop:
                return store if isinstance(store.auth, AuthorizationCodeAuth) else None
        return self.storage.pending_store(shop) if shop else None


RouteGroup = Callable[[ServiceContext], list[BaseRoute]]
access_log = logging.getLogger("service.access")


class PathOnlyAccessLog:
    """One access-log line per request without its query string: a callback's query holds
    the authorization code, its HMAC and the state (uvicorn's own access log is off)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = [500]

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            access_log.info("%s %s %s", scope["method"], scope["path"], status[0])


def health_routes(ctx: ServiceContext) -> list[BaseRoute]:
    def healthz(request: Request) -> JSONResponse:
        try:
            ctx.storage.ping()
        except Exception as exc:  # the probe reports, it does not crash
            log.warning("healthz: database unreachable (%s)", type(exc).__name__)
            return JSONResponse({"status": "degraded", "database": "unreachable"}, 503)
        return JSONResponse({"status": "ok"})

    return [Route("/healthz", healthz, methods=["GET"])]


def _default_groups() -> list[RouteGroup]:
    from service.install_routes import install_routes

    return [health_routes, install_routes]


def build_app(
    settings: ServiceSettings,
    *,
    route_groups: Sequence[RouteGroup] | None = None,
    http_transport: httpx.BaseTransport | None = None,
    storage: InstallStorage | None = None,
    clock: Callable[[], datetime] = _utcnow,
) -> Starlette:
    """The service. Tests pass `storage` (else the warehouse) and `http_transport` (else
    the network) for the code exchange."""
    ctx = ServiceContext(
        settings=settings,
        storage=storage or PostgresInstallStorage(PostgresResource(url=settings.database_url)),
        oauth=OAuthClient(settings.shopify_base_url, http_transport=http_transport),
        clock=clock,
    )
    routes: list[BaseRoute] = []
    for group in route_groups if route_groups is not None else _default_groups():
        routes.extend(group(ctx))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        ctx.oauth.close()
        ctx.storage.close()

    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(PathOnlyAccessLog)])
    app.state.ctx = ctx
    return app
