"""API versions: which one serves a request, and what it changes.

Today is 2026-11: 2026-10 is the newest stable version and Shopify supports each for twelve
months, so 2025-10 is the oldest one served. A retired version *falls forward* to the oldest
supported one, with no error, and ``X-Shopify-API-Version`` says so (FACTS.md §6.4).

Deliberate exception: ``2025-01`` is the schema this project holds, so the simulator keeps
serving it *as 2025-01* (header ``2025-01``, 2025-01 behaviour). Every other retired version
(``2024-10``, ``2025-04``, ``2025-07`` …) falls forward to ``2025-10`` as on Shopify.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SUPPORTED_VERSIONS: tuple[str, ...] = ("2025-10", "2026-01", "2026-04", "2026-07", "2026-10")
RELEASE_CANDIDATE = "2027-01"
KEPT_LEGACY_VERSIONS: tuple[str, ...] = ("2025-01",)
OLDEST_SUPPORTED = SUPPORTED_VERSIONS[0]
_VERSION = re.compile(r"^\d{4}-(01|04|07|10)$")


def served_version(requested: str) -> str:
    """The version that actually serves a URL's ``requested`` version."""
    if requested in KEPT_LEGACY_VERSIONS or requested in SUPPORTED_VERSIONS:
        return requested
    if requested in (RELEASE_CANDIDATE, "unstable"):
        return requested
    return OLDEST_SUPPORTED


def _at_least(version: str, floor: str) -> bool:
    return version == "unstable" or (bool(_VERSION.match(version)) and version >= floor)


@dataclass(frozen=True)
class Features:
    """What differs between versions in the surface this project uses."""

    order_by_identifier: bool  # 2025-04: orderByIdentifier(customId)
    change_from_quantity: bool  # 2026-01: changeFromQuantity, optional @idempotent
    cas_v2_required: bool  # 2026-04: changeFromQuantity required, compare* removed,
    #                        @idempotent mandatory on inventorySetQuantities
    bulk_concurrency: int  # 1 up to 2025-10, 5 from 2026-01
    level_activation: bool = False  # 2026-04: InventoryLevel.isActive, includeInactive;
    #                                 a deactivated level keeps its quantities
    unstocked_writes: bool = False  # 2026-10: no ITEM_NOT_STOCKED_AT_LOCATION: a write to an
    #                                 unstocked pair stocks it silently


def features_for(version: str) -> Features:
    return Features(
        order_by_identifier=_at_least(version, "2025-04"),
        change_from_quantity=_at_least(version, "2026-01"),
        cas_v2_required=_at_least(version, "2026-04"),
        bulk_concurrency=5 if _at_least(version, "2026-01") else 1,
        level_activation=_at_least(version, "2026-04"),
        unstocked_writes=_at_least(version, "2026-10"),
    )


def includes(features: Features, wanted: Features) -> bool:
    """Whether a version with ``features`` has every switch ``wanted`` has on."""
    return all(
        getattr(features, name) or not on
        for name, on in vars(wanted).items()
        if isinstance(on, bool)
    )
