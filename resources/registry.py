"""The retailer registry: which stores exist, how to reach them, which flows run.

The registry is the one place where an operator onboards a retailer, so it is
validated completely at load time: a typo in a location GID must fail when the
code location loads, with a message naming the retailer and the field, not at
3 a.m. inside a run. Tokens are never stored here, only the *name* of the
environment variable holding each one (a legacy admin token, or the app's client id
and secret for the OAuth kinds, whose tokens live encrypted in Postgres).
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import dagster as dg
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from sync.backup_retention import BackupSettings
from sync.orders import DEFAULT_HOLD_WINDOW
from sync.sku_matching import SkuMatching

DEFAULT_REGISTRY_PATH = Path(__file__).resolve().parent.parent / "config" / "retailers.example.yaml"
REGISTRY_ENV = "SHOPSYNC_REGISTRY"
DEFAULT_PARTITIONS_START = date(2026, 11, 24)

_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
_LOCATION_GID = re.compile(r"^gid://shopify/Location/[1-9][0-9]*$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_KEY = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Plan = Literal["Basic", "Standard", "Grow", "Advanced", "Plus", "Shopify Plus", "Enterprise"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BillingAddress(_Strict):
    """The retailer's B2B address, used as the billing address of hub orders."""

    company: str = Field(min_length=1)
    address1: str = Field(min_length=1)
    address2: str | None = None
    city: str = Field(min_length=1)
    province_code: str | None = None
    country_code: str = Field(pattern=r"^[A-Z]{2}$")
    zip: str = Field(min_length=1)
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None

    def as_mailing_address_input(self) -> dict[str, str]:
        """The Admin API's `MailingAddressInput` shape, without empty fields."""
        names = {
            "company": "company",
            "address1": "address1",
            "address2": "address2",
            "city": "city",
            "province_code": "provinceCode",
            "country_code": "countryCode",
            "zip": "zip",
            "phone": "phone",
            "first_name": "firstName",
            "last_name": "lastName",
        }
        return {api: v for field, api in names.items() if (v := getattr(self, field)) is not None}


class Flows(_Strict):
    orders: bool = True
    fulfillments: bool = True
    inventory: bool = True


class LookbackHours(_Strict):
    """How far before a partition's window a run also reads, so late updates are not missed."""

    orders: Annotated[int, Field(ge=0, le=24 * 14)] = 6
    fulfillments: Annotated[int, Field(ge=0, le=24 * 14)] = 24


def _check_emails(values: list[str]) -> list[str]:
    bad = [v for v in values if not _EMAIL.match(v)]
    if bad:
        raise ValueError(f"not an email address: {', '.join(bad)}")
    return values


def _env_name(v: str) -> str:
    if not _ENV_NAME.match(v):
        raise ValueError(
            "give the NAME of an environment variable (upper case, e.g. "
            "SHOPSYNC_TOKEN_EPIC_GARDENING), never the secret itself"
        )
    return v


EnvName = Annotated[str, AfterValidator(_env_name)]

#: What the flows need of a store (FACTS §10.1: an install asks for these scopes; the
#: follow-ups' order edits need write_order_edits).
DEFAULT_SCOPES = (
    "read_orders", "write_orders", "read_all_orders", "read_products", "read_inventory",
    "write_inventory", "read_locations", "read_merchant_managed_fulfillment_orders",
    "write_merchant_managed_fulfillment_orders", "read_fulfillments", "write_fulfillments",
    "write_order_edits",
)  # fmt: skip


class AccessTokenAuth(_Strict):
    """A legacy admin-created custom app's `shpat_` token (no new ones since 2026-01-01)."""

    kind: Literal["access_token"] = "access_token"
    #: Validated once, as the store's `token_env` (both forms fill that field).
    token_env: str


class ClientCredentialsAuth(_Strict):
    """The client-credentials grant: only for stores the operator's own organisation owns;
    tokens last 24 h and are fetched again ahead of expiry."""

    kind: Literal["client_credentials"]
    client_id_env: EnvName
    client_secret_env: EnvName


class AuthorizationCodeAuth(_Strict):
    """The install of a Dev Dashboard app by another merchant (`shopsync serve` takes the
    callback); `expiring` asks for 1 h offline tokens with a rotating refresh token."""

    kind: Literal["authorization_code"]
    client_id_env: EnvName
    client_secret_env: EnvName
    scopes: list[str] = Field(default_factory=lambda: list(DEFAULT_SCOPES), min_length=1)
    expiring: bool = False


StoreAuth = Annotated[
    AccessTokenAuth | ClientCredentialsAuth | AuthorizationCodeAuth, Field(discriminator="kind")
]


class StoreConfig(_Strict):
    """What every store has: a key, a domain and how shopsync authenticates to it."""

    key: str
    name: str = Field(min_length=1)
    shop_domain: str
    #: Legacy shorthand for `auth: {kind: access_token, token_env: ...}`.
    token_env: EnvName | None = None
    auth: StoreAuth = None  # type: ignore[assignment]  (filled from token_env when absent)
    plan: Plan = "Standard"

    @model_validator(mode="before")
    @classmethod
    def _auth_from_token_env(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        token_env, auth = data.get("token_env"), data.get("auth")
        if auth is None:
            if token_env is None:
                raise ValueError(
                    "say how to authenticate: token_env (a legacy admin token) or auth "
                    "(kind client_credentials or authorization_code)"
                )
            return {**data, "auth": {"kind": "access_token", "token_env": token_env}}
        if token_env is not None:
            legacy = isinstance(auth, dict) and auth.get("kind", "access_token") == "access_token"
            if not legacy or auth.get("token_env") not in (None, token_env):
                raise ValueError("give either token_env or auth, not both")
            return {**data, "auth": {**auth, "token_env": token_env}}
        if isinstance(auth, dict) and auth.get("kind", "access_token") == "access_token":
            return {**data, "token_env": auth.get("token_env")}
        return data

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        if not _KEY.match(v):
            raise ValueError("use lower-case letters, digits and dashes, e.g. 'epic-gardening'")
        return v

    @field_validator("shop_domain")
    @classmethod
    def _domain(cls, v: str) -> str:
        if not _DOMAIN.match(v):
            raise ValueError(f"'{v}' is not a shop domain like 'my-store.myshopify.com'")
        return v

    def secret_envs(self) -> list[str]:
        """The env vars holding this store's secrets (their values are redacted everywhere)."""
        if isinstance(self.auth, AccessTokenAuth):
            return [self.auth.token_env]
        return [self.auth.client_secret_env]

    def token(self) -> str:
        """Read a legacy token at call time; raise naming the variable (never the value)."""
        if self.token_env is None:
            raise MissingTokenError(
                f"store '{self.key}' ({self.shop_domain}) authenticates by "
                f"{self.auth.kind}: its token comes from Shopify, not from a variable"
            )
        value = os.environ.get(self.token_env)
        if not value:
            raise MissingTokenError(
                f"store '{self.key}' ({self.shop_domain}): environment variable "
                f"{self.token_env} is not set; export the store's Admin API token there"
            )
        return value


def _location(v: str) -> str:
    if not _LOCATION_GID.match(v):
        raise ValueError(f"'{v}' is not a location GID like 'gid://shopify/Location/123'")
    return v


class HubConfig(StoreConfig):
    """The warehouse store every retailer's orders are shipped from."""

    key: str = "hub"
    location_id: str

    _loc = field_validator("location_id")(classmethod(lambda cls, v: _location(v)))


class RetailerConfig(StoreConfig):
    """A retailer store whose hub-location orders the hub ships."""

    hub_location_id: str
    billing_address: BillingAddress
    flows: Flows = Flows()
    lookback_hours: LookbackHours = LookbackHours()
    #: Units of every SKU the retailer never shows, and per-SKU exceptions (by exact SKU).
    safety_stock: Annotated[int, Field(ge=0)] = 0
    safety_stock_overrides: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    #: A new order waits this long before import, so early edits and cancels land first.
    hold_window_minutes: Annotated[float, Field(ge=0, le=24 * 60)] = (
        DEFAULT_HOLD_WINDOW.total_seconds() / 60
    )
    notify: list[str] = Field(default_factory=list)
    #: How its SKUs are matched to the hub's: exactly unless opted in (FAULTS O11). With
    #: `trim_whitespace` / `ignore_case`, a SKU that differs from one hub SKU only by
    #: surrounding whitespace / letter case matches it, and each such match is reported.
    sku_matching: SkuMatching = SkuMatching()
    #: What a hub order the hub itself cancelled does to its retailer order (FAULTS O15):
    #: `report` tells the retailer's recipients, with the lines; `cancel_at_retailer` also
    #: takes the units the hub will not ship off the retailer order: the order is cancelled
    #: (restocked, refunded, no customer email) when nothing else of it ships, else those
    #: lines are removed by an order edit and the alert says the difference is to refund.
    on_hub_cancel: Literal["report", "cancel_at_retailer"] = "report"

    _loc = field_validator("hub_location_id")(classmethod(lambda cls, v: _location(v)))
    _notify = field_validator("notify")(classmethod(lambda cls, v: _check_emails(v)))


class Notifications(_Strict):
    time_zone: str = "UTC"
    daily_summary_hour: Annotated[int, Field(ge=0, le=23)] = 18
    recipients: list[str] = Field(default_factory=list)
    sender: str = "shopsync@localhost.localdomain"
    #: The Dagster UI as operators reach it: every alert links its run there.
    ui_url: str = Field(default="http://localhost:3000", pattern=r"^https?://[^\s]+$")

    _recipients = field_validator("recipients")(classmethod(lambda cls, v: _check_emails(v)))

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone '{v}' (use an IANA name like 'UTC')") from exc
        return v


class Threshold(_Strict):
    """One figure of the operations guide: where it should be and where it alerts."""

    target: float
    alert: float


_CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class QuietHours(_Strict):
    """Non-critical mail queued between `start` and `end` (registry time zone) waits
    until `end`; `start == end` means no quiet hours."""

    start: str = Field(default="22:00", pattern=_CLOCK)
    end: str = Field(default="07:00", pattern=_CLOCK)


class Thresholds(_Strict):
    """The operations guide's thresholds; `alert` is the line whose crossing emails.
    Rates are fractions (0.95 = 95 %), response times seconds (the p95 of API calls)."""

    success_rate: Threshold = Threshold(target=0.95, alert=0.90)
    api_response_seconds: Threshold = Threshold(target=5.0, alert=10.0)
    error_rate: Threshold = Threshold(target=0.01, alert=0.05)
    uptime: Threshold = Threshold(target=0.999, alert=0.99)


class OperationsSettings(_Strict):
    """How the operator's console watches and alerts (defaults: the operations guide)."""

    thresholds: Thresholds = Thresholds()
    #: Repeats of one alert key within this window join the first email instead of a new one.
    alert_group_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 120
    quiet_hours: QuietHours = QuietHours()
    #: An exception (an order that needs a person) waiting longer than this escalates once.
    exception_escalate_hours: Annotated[float, Field(gt=0, le=24 * 14)] = 4.0
    #: Weekly report day, 0 = Monday (the guide's weekly performance analysis).
    weekly_report_weekday: Annotated[int, Field(ge=0, le=6)] = 0
    #: Fewer runs/calls than this in a window are too few to judge a rate (no alert).
    min_samples: Annotated[int, Field(ge=1)] = 5


class InventorySettings(_Strict):
    """How the inventory flow reads and writes (the defaults suit a 5-minute cycle)."""

    #: Count unpaid open retailer orders as pending demand (they usually get paid).
    pending_includes_unpaid: bool = True
    #: A delta read starts this long before the previous read did: Shopify's search index
    #: lags behind writes (FACTS §2.5), so a change at the boundary is read twice, never 0.
    delta_overlap_seconds: Annotated[int, Field(ge=0, le=3600)] = 120
    #: A cycle reads both sides in full when the last full read is older than this.
    full_reconciliation_minutes: Annotated[int, Field(ge=5, le=7 * 24 * 60)] = 60
    #: A full read of a store with more levels than this runs as a bulk operation.
    bulk_threshold: Annotated[int, Field(ge=1000)] = 20_000
    #: Entries per inventorySetQuantities call (the Admin API's input-array cap is 250).
    batch_size: Annotated[int, Field(ge=1, le=250)] = 250
    #: Unmapped and ambiguous SKUs per retailer above this make the check warn.
    mismatch_warn_threshold: Annotated[int, Field(ge=0)] = 0


class Registry(_Strict):
    hub: HubConfig
    retailers: list[RetailerConfig] = Field(min_length=1)
    notifications: Notifications = Notifications()
    inventory: InventorySettings = InventorySettings()
    operations: OperationsSettings = OperationsSettings()
    backups: BackupSettings = BackupSettings()
    #: First day of the hourly partitions (UTC): "failed and missing" starts here.
    partitions_start: date = DEFAULT_PARTITIONS_START

    @model_validator(mode="after")
    def _unique(self) -> Registry:
        problems = []
        for attr in ("key", "shop_domain", "token_env"):
            seen: set[str] = set()
            for store in self.stores():
                value = getattr(store, attr)
                if value is None:
                    continue
                if value in seen:
                    problems.append(f"{attr} '{value}' is used by more than one store")
                seen.add(value)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def stores(self) -> list[StoreConfig]:
        return [self.hub, *self.retailers]

    def store(self, key: str) -> StoreConfig:
        for store in self.stores():
            if store.key == key:
                return store
        raise KeyError(f"no store '{key}' in the registry (known: {self.store_keys()})")

    def retailer(self, key: str) -> RetailerConfig:
        for retailer in self.retailers:
            if retailer.key == key:
                return retailer
        raise KeyError(f"no retailer '{key}' in the registry (known: {self.store_keys()})")

    def store_keys(self) -> list[str]:
        return [s.key for s in self.stores()]

    def enabled_retailers(self, flow: str) -> list[RetailerConfig]:
        return [r for r in self.retailers if getattr(r.flows, flow)]


class MissingTokenError(RuntimeError):
    """A store's token variable is unset: the message names the variable, never a value."""


class RegistryError(ValueError):
    """A registry file that cannot be used; `problems` has one line per field."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid retailer registry {path}:\n{lines}")


def _where(loc: tuple, raw: dict) -> str:
    """Turn a pydantic error location into 'retailer 'epic-gardening' field x.y'."""
    parts = [str(p) for p in loc]
    if len(loc) >= 2 and loc[0] == "retailers" and isinstance(loc[1], int):
        retailers = raw.get("retailers") or []
        entry = retailers[loc[1]] if loc[1] < len(retailers) else {}
        key = entry.get("key") if isinstance(entry, dict) else None
        who = f"retailer '{key}'" if key else f"retailer #{loc[1] + 1}"
        field = ".".join(parts[2:])
        return f"{who}: {field}" if field else who
    if loc and loc[0] == "hub":
        return "hub: " + ".".join(parts[1:]) if len(parts) > 1 else "hub"
    return ".".join(parts) or "registry"


def parse_registry(raw: object, path: Path) -> Registry:
    if not isinstance(raw, dict):
        raise RegistryError(path, ["the file must be a mapping with 'hub' and 'retailers'"])
    try:
        return Registry.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown field (check the spelling)"
            problems.append(f"{_where(tuple(err['loc']), raw)}: {msg}")
        raise RegistryError(path, problems) from None


def registry_path(path: str | os.PathLike | None = None) -> Path:
    return Path(path or os.environ.get(REGISTRY_ENV) or DEFAULT_REGISTRY_PATH)


def load_registry(path: str | os.PathLike | None = None) -> Registry:
    """Load and validate the registry (default: $SHOPSYNC_REGISTRY, else the example file)."""
    p = registry_path(path)
    try:
        raw = yaml.safe_load(p.read_text())
    except FileNotFoundError:
        raise RegistryError(p, [f"file not found; set {REGISTRY_ENV} or create it"]) from None
    except yaml.YAMLError as exc:
        raise RegistryError(p, [f"not valid YAML: {exc}"]) from None
    return parse_registry(raw, p)


class RegistryResource(dg.ConfigurableResource):
    """The registry for assets, sensors and checks; `path` unset = $SHOPSYNC_REGISTRY or example.

    Loading is cheap and validated, so every run sees the file as it is now: a
    retailer onboarded in the registry is picked up without a restart.
    """

    path: str | None = None

    def get(self) -> Registry:
        return load_registry(self.path)
