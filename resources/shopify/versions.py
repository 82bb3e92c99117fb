"""Every difference between Admin API versions that this project depends on, in one place.

- 2026-04 moved inventory compare-and-set from `compareQuantity`/`ignoreCompareQuantity`
  to `changeFromQuantity` (explicit null opts out) and made `@idempotent(key:)` mandatory
  at runtime (FACTS.md §4.8, §5).
- 2026-04 keeps deactivated levels (`InventoryLevel.isActive`, `includeInactive`); the
  inventory reads of that version select them (`inventory_read_operation`).
- A retired version is not an error: Shopify silently serves the oldest supported one and
  says so in `X-Shopify-API-Version` (FACTS.md §6.4). `VersionWatch` warns once per store.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from dataclasses import dataclass

logger = logging.getLogger(__name__)

#: The newest stable version the simulator serves (FACTS §10.6).
DEFAULT_API_VERSION = "2026-10"
_VERSION_RE = re.compile(r"^(\d{4})-(\d{2})$")
CHANGE_FROM_QUANTITY_SINCE = (2026, 4)
LEVEL_ACTIVATION_SINCE = (2026, 4)


def parse_version(version: str) -> tuple[int, int]:
    """`'2025-01'` -> `(2025, 1)`; `unstable` sorts after every dated version."""
    if version == "unstable":
        return (9999, 99)
    match = _VERSION_RE.match(version)
    if not match:
        raise ValueError(f"API version must look like YYYY-MM or 'unstable', got {version!r}")
    return int(match.group(1)), int(match.group(2))


def uses_change_from_quantity(version: str) -> bool:
    """True when inventory compare-and-set is `changeFromQuantity` + `@idempotent` (2026-04+)."""
    return parse_version(version) >= CHANGE_FROM_QUANTITY_SINCE


def inventory_set_operation(version: str) -> str:
    """Name of the `.graphql` document that sets inventory in this API version."""
    if uses_change_from_quantity(version):
        return "inventory_set_quantities_2026_04"
    return "inventory_set_quantities_2025_01"


def reads_inactive_levels(version: str) -> bool:
    """True when Shopify keeps deactivated levels, with `isActive` (2026-04+)."""
    return parse_version(version) >= LEVEL_ACTIVATION_SINCE


def inventory_read_operation(name: str, version: str) -> str:
    """The document of an inventory read in this API version: from 2026-04 the `_2026_04`
    variant, which also reads deactivated levels and their `isActive` (FACTS §10.2)."""
    return f"{name}_2026_04" if reads_inactive_levels(version) else name


@dataclass(frozen=True)
class InventorySet:
    """One absolute write: set `quantity` if the stored value still equals `expected`.

    `expected=None` means "no compare-and-set" (only for first writes that cannot race).
    """

    inventory_item_id: str
    location_id: str
    quantity: int
    expected: int | None


def inventory_set_variables(
    version: str,
    entries: list[InventorySet],
    *,
    idempotency_key: str,
    reason: str = "correction",
    name: str = "available",
    reference_document_uri: str | None = None,
) -> dict:
    """Variables for `inventory_set_operation(version)`.

    `idempotency_key` must be derived from the write itself (see `stable_key`), so a retry
    of the same write, in this process or the next run, sends the same key.
    """
    new_style = uses_change_from_quantity(version)
    quantities = []
    for e in entries:
        q = {"inventoryItemId": e.inventory_item_id, "locationId": e.location_id}
        q["quantity"] = e.quantity
        if new_style:
            q["changeFromQuantity"] = e.expected  # explicit null opts out (required key)
        elif e.expected is not None:
            q["compareQuantity"] = e.expected
        quantities.append(q)
    payload: dict = {"name": name, "reason": reason, "quantities": quantities}
    if reference_document_uri:
        payload["referenceDocumentUri"] = reference_document_uri
    if not new_style and all(e.expected is None for e in entries):
        payload["ignoreCompareQuantity"] = True
    variables: dict = {"input": payload}
    if new_style:
        variables["key"] = idempotency_key
    return variables


def stable_key(*parts: object) -> str:
    """A deterministic idempotency key from the parts that identify one logical write."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return f"shopsync-{digest[:40]}"


class VersionWatch:
    """Warns once per (store, requested, served) when Shopify fell forward to another version."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def check(self, store: str, requested: str, served: str | None) -> bool:
        """Return True (and log once) when the served version differs from the requested one."""
        if not served or served == requested:
            return False
        key = (store, requested, served)
        with self._lock:
            first = key not in self._seen
            self._seen.add(key)
        if first:
            logger.warning(
                "store '%s': asked for Admin API %s but Shopify served %s; the requested "
                "version is retired or unknown. Set ShopifyResource.api_version to a "
                "supported version.",
                store,
                requested,
                served,
            )
        return True


# One per process: the warning is about the store's configuration, not about one client.
VERSION_WATCH = VersionWatch()
