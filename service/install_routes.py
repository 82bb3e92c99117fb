"""GET /install and GET /auth/callback: the authorization-code install (FACTS §10.1).

The callback trusts nothing until, in this order, the shop is an authorization-code
store of the registry, its HMAC matches the app's secret, the timestamp is fresh, the
state is ours, unexpired and issued for this very shop, and its nonce was not used
before. Only then is the code exchanged and the token stored. A refusal (FAULTS A4)
answers 4xx, stores nothing and logs the reason, never the code, HMAC, state or token.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from resources.registry import AuthorizationCodeAuth, StoreConfig
from resources.shopify.oauth import AppCredentials, OAuthError, app_credentials
from service.app import ServiceContext
from service.install import (
    CallbackRefused,
    authorize_url,
    check_timestamp,
    is_shop_domain,
    new_state,
    verify_callback_hmac,
    verify_state,
)
from service.pages import error_page, installed_page

log = logging.getLogger(__name__)

_RESTART = "Start the install again from the link the operator sent you."


def _shown(shop: str | None) -> str:
    """The shop as it may appear in a log line: only a well-formed domain, never raw input."""
    return shop if is_shop_domain(shop) else "<not a shop domain>"


def _credentials(store: StoreConfig) -> AppCredentials:
    assert isinstance(store.auth, AuthorizationCodeAuth)
    try:
        return app_credentials(store.auth)
    except OAuthError as exc:  # names the variables, never a value
        log.error("install of store '%s' is not configured: %s", store.key, exc)
        raise CallbackRefused("shopsync is not configured for this store yet.", 503) from None


def install_routes(ctx: ServiceContext) -> list[BaseRoute]:
    settings = ctx.settings

    def store_for(shop: str | None) -> StoreConfig:
        store = ctx.install_store(shop) if is_shop_domain(shop) else None
        if store is None:
            raise CallbackRefused("This shop is not set up for installation with shopsync.", 404)
        return store

    def install(request: Request) -> Response:
        shop = request.query_params.get("shop")
        try:
            store = store_for(shop)
            app = _credentials(store)
        except CallbackRefused as refused:
            log.warning("install refused for shop %s: %s", _shown(shop), refused.reason)
            return error_page(refused.status, "Cannot install", refused.reason)
        assert isinstance(store.auth, AuthorizationCodeAuth) and shop is not None
        now = ctx.clock()
        state, payload = new_state(shop, ctx.state_key, now)
        ctx.storage.issue_state(payload.nonce, store.key, shop, now + settings.state_ttl)
        url = authorize_url(
            shop, app.client_id, store.auth.scopes, settings.redirect_uri, state,
            base_url=settings.shopify_base_url,
        )  # fmt: skip
        log.info("install of store '%s' (%s): redirecting to Shopify", store.key, shop)
        return RedirectResponse(url, status_code=302)

    def callback(request: Request) -> Response:
        params = list(request.query_params.multi_items())
        shop = request.query_params.get("shop")
        try:
            return _complete(ctx, store_for(shop), params)
        except CallbackRefused as refused:
            log.warning("install callback refused for shop %s: %s", _shown(shop), refused.reason)
            return error_page(refused.status, "Install refused", refused.reason, _RESTART)

    return [
        Route("/install", install, methods=["GET"]),
        Route("/auth/callback", callback, methods=["GET"]),
    ]


def _complete(ctx: ServiceContext, store: StoreConfig, params: list[tuple[str, str]]) -> Response:
    """Verify a callback of `store`'s shop, exchange its code and store the token."""
    assert isinstance(store.auth, AuthorizationCodeAuth)
    shop, settings, now = store.shop_domain, ctx.settings, ctx.clock()
    app = _credentials(store)
    verify_callback_hmac(params, app.client_secret)
    query = dict(params)
    check_timestamp(query.get("timestamp"), now, settings.callback_max_age)
    payload = verify_state(query.get("state"), ctx.state_key, now, settings.state_ttl)
    if payload.shop != shop:
        raise CallbackRefused("the state was issued for another shop", 403)
    code = query.get("code")
    if not code:
        raise CallbackRefused("the callback carries no authorization code", 400)
    issued_for = ctx.storage.consume_state(payload.nonce, shop)
    if issued_for is None:
        used = ctx.storage.state_was_used(payload.nonce)
        raise CallbackRefused(
            "this install link was already used" if used else "the state is unknown or expired",
            403,
        )
    if issued_for != store.key:
        raise CallbackRefused("the state was issued for another store", 403)
    try:
        grant = ctx.oauth.exchange_code(shop, app, code, expiring=store.auth.expiring)
    except OAuthError as exc:  # carries Shopify's error code, never the code or secret
        log.error("install of store '%s': code exchange failed: %s", store.key, exc)
        status = 400 if exc.permanent else 502
        raise CallbackRefused("Shopify did not accept the authorization.", status) from None
    ctx.storage.save_grant(store.key, shop, grant)
    log.info("store '%s' (%s) installed: token stored (scope %s)", store.key, shop, grant.scope)
    return installed_page(store.key, shop, grant.scope)
