"""What `shopsync serve` needs to know, read once at start so a missing variable fails
before the first merchant clicks "install" rather than inside their callback."""

from __future__ import annotations

import os
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from resources.secrets import SECRET_KEY_ENV

BASE_URL_ENV = "SHOPSYNC_SHOPIFY_BASE_URL"
PUBLIC_URL_ENV = "SHOPSYNC_PUBLIC_URL"
CALLBACK_PATH = "/auth/callback"


class ServiceSettings(BaseModel):
    """The service's configuration; `secret_key` signs states (never shown in a repr)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: How merchants' browsers reach this service (Shopify redirects to it after approval).
    public_url: str = Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    secret_key: SecretStr
    #: The registry file (None: $SHOPSYNC_REGISTRY, else the example).
    registry_path: str | None = None
    #: The warehouse (None: $SHOPSYNC_DATABASE_URL, else the embedded server).
    database_url: str | None = None
    #: The simulator's base URL; None means the real `https://{shop}`.
    shopify_base_url: str | None = None
    state_ttl_seconds: int = Field(default=600, ge=30, le=3600)
    callback_max_age_seconds: int = Field(default=600, ge=30, le=3600)

    @field_validator("public_url")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.rstrip("/")

    @property
    def redirect_uri(self) -> str:
        """The callback URL: it must be listed as an allowed redirect URL of the app."""
        return self.public_url + CALLBACK_PATH

    @property
    def state_ttl(self) -> timedelta:
        return timedelta(seconds=self.state_ttl_seconds)

    @property
    def callback_max_age(self) -> timedelta:
        return timedelta(seconds=self.callback_max_age_seconds)

    @classmethod
    def from_env(cls, public_url: str | None = None, **overrides: object) -> ServiceSettings:
        """Settings from the environment; raise naming the variable that is missing."""
        secret = os.environ.get(SECRET_KEY_ENV, "").strip()
        if not secret:
            raise ValueError(
                f"{SECRET_KEY_ENV} is not set: it encrypts the stores' tokens and signs the "
                "install's state; export the same key the sync uses"
            )
        url = public_url or os.environ.get(PUBLIC_URL_ENV)
        if not url:
            raise ValueError(f"give --public-url or set {PUBLIC_URL_ENV} (the callback's host)")
        values: dict[str, object] = {
            "public_url": url,
            "secret_key": secret,
            "shopify_base_url": os.environ.get(BASE_URL_ENV) or None,
            **overrides,
        }
        return cls.model_validate(values)
