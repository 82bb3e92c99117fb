"""Pure helpers of the authorization-code install: the authorize URL, the callback HMAC,
the signed `state` and the callback's timestamp (FACTS §10.1, FAULTS A4).

Nothing here touches the network, a database or the environment, so every rule that
decides whether a callback is trusted is unit-tested on its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, ValidationError

_SHOP = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
_STATE_KEY_INFO = b"shopsync/oauth-state/v1"


class CallbackRefused(ValueError):
    """A callback or state that must not be trusted; `reason` is safe to log and show
    (it never contains the code, the HMAC, the state or a secret)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def is_shop_domain(shop: str | None) -> bool:
    """Only `name.myshopify.com` is accepted: the shop also becomes part of a URL."""
    return bool(shop) and bool(_SHOP.match(shop or ""))


def authorize_url(
    shop: str,
    client_id: str,
    scopes: Sequence[str],
    redirect_uri: str,
    state: str,
    base_url: str | None = None,
) -> str:
    """Where the merchant approves the app: the shop's own admin, or the simulator's
    `{base}/{shop}/admin/oauth/authorize` when `base_url` points at one."""
    if not is_shop_domain(shop):
        raise ValueError(f"'{shop}' is not a shop domain like 'my-store.myshopify.com'")
    root = f"{base_url.rstrip('/')}/{shop}" if base_url else f"https://{shop}"
    query = urlencode(
        {
            "client_id": client_id,
            "scope": ",".join(scopes),
            "redirect_uri": redirect_uri,
            "state": state,
        }
    )
    return f"{root}/admin/oauth/authorize?{query}"


def hmac_message(params: Iterable[tuple[str, str]]) -> str:
    """The signed text: every parameter except `hmac`, sorted, `k=v` joined with `&`."""
    return "&".join(f"{k}={v}" for k, v in sorted(p for p in params if p[0] != "hmac"))


def sign_params(params: Iterable[tuple[str, str]], client_secret: str) -> str:
    """Hex HMAC-SHA256 of `hmac_message(params)` keyed with the app's client secret."""
    digest = hmac.new(client_secret.encode(), hmac_message(params).encode(), hashlib.sha256)
    return digest.hexdigest()


def verify_callback_hmac(params: Sequence[tuple[str, str]], client_secret: str) -> None:
    """Refuse a callback whose `hmac` is missing or wrong (compared in constant time).

    A repeated parameter is refused too: which copy Shopify signed would be a guess.
    """
    keys = [k for k, _ in params]
    if len(set(keys)) != len(keys):
        raise CallbackRefused("a query parameter is repeated", 400)
    given = dict(params).get("hmac")
    if not given:
        raise CallbackRefused("the callback carries no hmac", 400)
    expected = sign_params(params, client_secret)
    if not hmac.compare_digest(expected.encode(), given.lower().encode()):
        raise CallbackRefused("the callback's hmac does not match the app's secret", 401)


def check_timestamp(
    timestamp: str | None,
    now: datetime,
    max_age: timedelta,
    max_skew: timedelta = timedelta(minutes=1),
) -> None:
    """Refuse a callback signed too long ago (or too far in the future)."""
    try:
        signed_at = datetime.fromtimestamp(int(timestamp or ""), tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise CallbackRefused("the callback's timestamp is missing or not a number") from None
    if signed_at > now + max_skew:
        raise CallbackRefused("the callback's timestamp is in the future", 400)
    if now - signed_at > max_age:
        raise CallbackRefused("the callback is too old; start the install again", 400)


class StatePayload(BaseModel):
    """What a `state` proves: which shop it was issued for, its one-use nonce, when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shop: str
    nonce: str
    iat: int

    def __repr__(self) -> str:  # the nonce is a capability until consumed
        return f"StatePayload(shop={self.shop!r}, iat={self.iat})"

    __str__ = __repr__

    @property
    def issued_at(self) -> datetime:
        return datetime.fromtimestamp(self.iat, tz=UTC)


def state_key(secret_key: str) -> bytes:
    """A key for states only, derived from SHOPSYNC_SECRET_KEY (the token cipher's key
    is never used directly to sign something an outsider sees)."""
    return hmac.new(secret_key.encode(), _STATE_KEY_INFO, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_state(shop: str, key: bytes, now: datetime) -> tuple[str, StatePayload]:
    """A fresh signed state for `shop`: `base64(payload).base64(hmac)`."""
    payload = StatePayload(shop=shop, nonce=secrets.token_urlsafe(24), iat=int(now.timestamp()))
    body = _b64(json.dumps(payload.model_dump(), separators=(",", ":")).encode())
    signature = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    return f"{body}.{signature}", payload


def verify_state(state: str | None, key: bytes, now: datetime, ttl: timedelta) -> StatePayload:
    """The payload of a state this service signed and that has not expired."""
    body, _, signature = (state or "").partition(".")
    if not body or not signature:
        raise CallbackRefused("the callback carries no valid state", 400)
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise CallbackRefused("the state was not issued by this service", 403)
    try:
        payload = StatePayload.model_validate_json(_unb64(body))
    except (ValueError, ValidationError):
        raise CallbackRefused("the state was not issued by this service", 403) from None
    if now - payload.issued_at > ttl:
        raise CallbackRefused("the state has expired; start the install again", 403)
    return payload
