"""Inventory rules: which SKUs both stores carry, what each retailer must show, what to write.

The hub's `available` at its warehouse location is the truth. A retailer's hub
location shows, for every SKU both stores carry exactly once::

    target = max(0, hub_available − safety_stock − pending)

`pending` is the units of every retailer's orders the hub may still have to ship and
has not turned into hub orders yet (as of the hub read): a sale at one retailer lowers
the shown stock at all of them before the hub knows (FAULTS I10), and once its hub
order exists the hub's own `available` carries it, so it is not subtracted twice (I8).
The retailer's `available` is set, never `on_hand`: the retailer's own committed units
are already outside `available`.

Everything here is pandas over frames the flow read or loaded: no Shopify, no SQL.
Frames of levels have the columns `item_id`, `sku`, `available` (and, for a
retailer, `active`); the hub's is the snapshot at its warehouse location, the
retailer's the levels at its hub location only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import pandas as pd

from sync.sku_matching import EXACT, HubSkus, MatchKind, SkuMatching, pair_label

#: The general input-array cap of the Admin API (no lower limit is documented for
#: `inventorySetQuantities`, FACTS §4.8).
MAX_BATCH = 250

LEVEL_COLUMNS = ["item_id", "sku", "available"]
#: `sku` is the hub's; `retailer_sku` the retailer's, verbatim (they differ only when the
#: retailer opted into normalisation, O11).
PAIR_COLUMNS = ["sku", "hub_item_id", "hub_available", "item_id", "available", "retailer_sku"]


class Mismatch(StrEnum):
    """Why a SKU is not synced (or synced with a caveat). Reported, never retried in a loop."""

    ONLY_AT_HUB = "only_at_hub"  # the retailer does not sell it (common: a subset)
    ONLY_AT_RETAILER = "only_at_retailer"  # stocked at the hub location, unknown to the hub
    DUPLICATE_AT_HUB = "duplicate_at_hub"  # several hub items share the SKU: ambiguous
    DUPLICATE_AT_RETAILER = "duplicate_at_retailer"  # several retailer items: ambiguous
    NOT_STOCKED = "not_stocked"  # the retailer has the SKU but not at the hub location
    INACTIVE = "inactive"  # the level at the hub location is deactivated (2026-04+)
    NEGATIVE_AT_HUB = "negative_at_hub"  # oversold at the hub: shown as 0
    NO_SKU = "no_sku"  # an item without a SKU cannot be matched
    #: differs from a hub SKU only by whitespace or letter case, not allowed by the retailer's
    #: `sku_matching` (O11); the detail says exactly what differs
    SKU_NEAR_MISS = "sku_near_miss"
    #: the retailer's opted-in normalisation gives several hub SKUs (named in the detail)
    SKU_NORMALISED_AMBIGUOUS = "sku_normalised_ambiguous"


#: Kinds that mean "a person should look": counted against the warning threshold.
ATTENTION = frozenset(
    {
        Mismatch.ONLY_AT_RETAILER,
        Mismatch.DUPLICATE_AT_HUB,
        Mismatch.DUPLICATE_AT_RETAILER,
        Mismatch.NOT_STOCKED,
        Mismatch.INACTIVE,
        Mismatch.SKU_NEAR_MISS,
        Mismatch.SKU_NORMALISED_AMBIGUOUS,
    }
)

_FIXES = {
    Mismatch.ONLY_AT_HUB: "nothing to do unless the retailer should sell it",
    Mismatch.ONLY_AT_RETAILER: "the hub has no item with this SKU: fix the SKU at the "
    "retailer or stop stocking it at the hub location",
    Mismatch.DUPLICATE_AT_HUB: "give each hub variant its own SKU; not synced until then",
    Mismatch.DUPLICATE_AT_RETAILER: "give each retailer variant its own SKU; not synced until then",
    Mismatch.NOT_STOCKED: "stock the item at the retailer's hub location (Shopify admin → "
    "product → inventory → locations)",
    Mismatch.INACTIVE: "activate the item at the retailer's hub location; not synced until then",
    Mismatch.NEGATIVE_AT_HUB: "the hub is oversold; the retailer shows 0",
    Mismatch.NO_SKU: "give the variant a SKU",
    Mismatch.SKU_NEAR_MISS: "the SKU differs from a hub SKU only by surrounding whitespace or "
    "letter case: correct it at the retailer, or opt the retailer into sku_matching in the "
    "registry; not synced until then",
    Mismatch.SKU_NORMALISED_AMBIGUOUS: "normalised, the SKU matches several hub SKUs: correct "
    "it at the retailer to exactly one of them; not synced until then",
}


def fix_for(kind: Mismatch | str) -> str:
    return _FIXES[Mismatch(kind)]


def levels_frame(rows: list[dict] | None = None, *, with_active: bool = False) -> pd.DataFrame:
    """A frame of levels with the expected columns and dtypes (also when empty)."""
    columns = LEVEL_COLUMNS + (["active"] if with_active else [])
    frame = pd.DataFrame(rows or [], columns=columns)
    frame["available"] = frame["available"].astype("int64")
    if with_active:
        frame["active"] = frame["active"].fillna(True).astype(bool)
    return frame


@dataclass
class Pairing:
    """SKUs both stores carry exactly once (`pairs`), and every other SKU with its reason."""

    pairs: pd.DataFrame
    mismatches: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["sku", "kind", "detail"])
    )
    #: `'X ' → 'X'` for each retailer SKU paired through its opted-in normalisation (O11).
    normalised: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        found = self.mismatches["kind"].value_counts().to_dict() if len(self.mismatches) else {}
        return {kind.value: int(found.get(kind.value, 0)) for kind in Mismatch}

    def attention(self) -> int:
        return sum(n for kind, n in self.counts().items() if kind in ATTENTION)


def pair_skus(
    hub: pd.DataFrame,
    retailer: pd.DataFrame,
    *,
    not_stocked: set[str] | frozenset[str] = frozenset(),
    sku_matching: SkuMatching = EXACT,
) -> Pairing:
    """Match hub and retailer levels by exact SKU (a SKU is never matched by guess), or
    under the retailer's opted-in `sku_matching` (O11): such a retailer item is paired
    under the hub's SKU (its own stays in `retailer_sku`) and listed in `normalised`; one
    that only nearly matches is reported with exactly what differs.

    `retailer` holds the levels at the retailer's hub location (with `active`);
    `not_stocked` are SKUs the retailer's catalogue has without a level there (known
    only after a full read).
    """
    problems: list[dict] = []

    def report(skus, kind: Mismatch, detail: str = "") -> None:
        problems.extend({"sku": s, "kind": kind.value, "detail": detail} for s in skus)

    hub, retailer = _with_sku(hub, report), _with_sku(retailer, report)
    retailer, not_stocked, normalised, near_hub = _normalise(
        hub, retailer, set(not_stocked), sku_matching, problems
    )
    hub_dup = _duplicated(hub)
    ret_dup = _duplicated(retailer)
    report(sorted(hub_dup), Mismatch.DUPLICATE_AT_HUB, "several hub items")
    report(sorted(ret_dup), Mismatch.DUPLICATE_AT_RETAILER, "several retailer items")
    ambiguous = hub_dup | ret_dup
    hub = hub[~hub["sku"].isin(ambiguous)]
    retailer = retailer[~retailer["sku"].isin(ambiguous)]
    inactive = retailer[~retailer["active"]]
    report(sorted(inactive["sku"]), Mismatch.INACTIVE)
    retailer = retailer[retailer["active"]]
    hub_skus, ret_skus = set(hub["sku"]), set(retailer["sku"])
    missing = set(not_stocked) & hub_skus
    report(sorted(missing), Mismatch.NOT_STOCKED)
    report(
        sorted(hub_skus - ret_skus - missing - set(inactive["sku"]) - near_hub),
        Mismatch.ONLY_AT_HUB,
    )
    report(sorted(ret_skus - hub_skus), Mismatch.ONLY_AT_RETAILER)
    negative = hub[(hub["available"] < 0) & hub["sku"].isin(ret_skus)]
    report(sorted(negative["sku"]), Mismatch.NEGATIVE_AT_HUB, "shown as 0")
    pairs = hub.rename(columns={"item_id": "hub_item_id", "available": "hub_available"})[
        ["sku", "hub_item_id", "hub_available"]
    ].merge(retailer[["sku", "item_id", "available", "retailer_sku"]], on="sku", how="inner")
    mismatches = pd.DataFrame(problems, columns=["sku", "kind", "detail"])
    return Pairing(
        pairs=pairs.sort_values("sku", ignore_index=True),
        mismatches=mismatches,
        normalised=sorted(pair_label(r, h) for r, h in normalised),
    )


def _normalise(hub: pd.DataFrame, retailer: pd.DataFrame, not_stocked: set[str],
               policy: SkuMatching, problems: list[dict]):  # fmt: skip
    """Retailer SKUs not at the hub exactly, matched under `policy`: a normalised match is
    renamed to the hub's SKU (the retailer's kept in `retailer_sku`), a near miss or an
    ambiguity is reported and left out. Returns (retailer, not_stocked, normalised pairs,
    hub SKUs named by a near miss or an ambiguity)."""
    index = HubSkus(hub["sku"])
    retailer = retailer.assign(retailer_sku=retailer["sku"])
    rename, dropped, near_hub, normalised = {}, set(), set(), []
    for sku in sorted(set(retailer["sku"]) - index.exact):
        match = index.match(sku, policy)
        if match.kind is MatchKind.NORMALISED:
            rename[sku] = match.hub_sku
            normalised.append((sku, match.hub_sku))
        elif match.kind in (MatchKind.NEAR_MISS, MatchKind.AMBIGUOUS):
            kind = (
                Mismatch.SKU_NEAR_MISS
                if match.kind is MatchKind.NEAR_MISS
                else Mismatch.SKU_NORMALISED_AMBIGUOUS
            )
            problems.append({"sku": sku, "kind": kind.value, "detail": match.message})
            dropped.add(sku)
            near_hub.update(match.hub_skus)
    retailer = retailer[~retailer["sku"].isin(dropped)]
    retailer = retailer.assign(sku=retailer["sku"].map(lambda s: rename.get(s, s)))
    not_stocked = {index.match(s, policy).hub_sku or s for s in not_stocked}
    return retailer, not_stocked, normalised, near_hub


def _with_sku(frame: pd.DataFrame, report) -> pd.DataFrame:
    frame = frame.copy()
    if "active" not in frame:
        frame["active"] = True
    blank = frame["sku"].isna() | (frame["sku"].astype(str) == "")
    report(sorted(frame.loc[blank, "item_id"]), Mismatch.NO_SKU, "inventory item without a SKU")
    return frame[~blank]


def _duplicated(frame: pd.DataFrame) -> set[str]:
    return set(frame.loc[frame["sku"].duplicated(keep=False), "sku"])


@dataclass(frozen=True)
class SafetyStock:
    """Units a retailer never shows: its default, and per-SKU overrides."""

    default: int = 0
    overrides: Mapping[str, int] = field(default_factory=dict)

    def for_skus(self, skus: pd.Series) -> pd.Series:
        return skus.map(lambda s: self.overrides.get(s, self.default)).astype("int64")


def with_targets(
    pairs: pd.DataFrame, pending: Mapping[str, int], safety: SafetyStock
) -> pd.DataFrame:
    """`pairs` plus `safety`, `pending` and `target` per SKU."""
    frame = pairs.copy()
    frame["safety"] = safety.for_skus(frame["sku"])
    frame["pending"] = frame["sku"].map(lambda s: int(pending.get(s, 0))).astype("int64")
    frame["target"] = (frame["hub_available"] - frame["safety"] - frame["pending"]).clip(lower=0)
    return frame


def writes_needed(targets: pd.DataFrame) -> pd.DataFrame:
    """The pairs whose retailer value differs from the target: the only ones written."""
    return targets[targets["available"] != targets["target"]].reset_index(drop=True)


def batches(frame: pd.DataFrame, size: int = MAX_BATCH) -> Iterator[pd.DataFrame]:
    """Consecutive slices of at most `size` rows (`size` ≤ the API's 250-element cap)."""
    if not 0 < size <= MAX_BATCH:
        raise ValueError(f"batch size must be 1..{MAX_BATCH}, got {size}")
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]


def oversell_exposure(targets: pd.DataFrame) -> pd.DataFrame:
    """Per SKU, the units the retailer shows beyond what the hub can ship after every
    retailer's pending demand (`max(0, hub − pending)`); rows with exposure > 0 only."""
    shippable = (targets["hub_available"] - targets["pending"]).clip(lower=0)
    exposure = (targets["available"] - shippable).clip(lower=0)
    out = targets.assign(shippable=shippable, exposure=exposure)
    return out[out["exposure"] > 0].reset_index(drop=True)


class Drift(StrEnum):
    """Why a full reconciliation found a retailer off target."""

    RETAILER_CHANGED = "retailer_changed"  # changed outside shopsync since we last knew it
    HUB_CHANGED = "hub_changed"  # the hub moved and the delta reads did not see it
    NEW_PAIR = "new_pair"  # a pair shopsync did not know before
    TARGET_MOVED = "target_moved"  # pending or safety stock changed


def drift_report(
    writes: pd.DataFrame,
    known_retailer: Mapping[str, int],
    known_hub: Mapping[str, int],
) -> pd.DataFrame:
    """The SKUs a full reconciliation corrects, each with what shopsync knew before and
    why it was off (FAULTS I7)."""
    rows = []
    for row in writes.itertuples(index=False):
        before = known_retailer.get(row.item_id)
        if before is None:
            cause = Drift.NEW_PAIR
        elif before != row.available:
            cause = Drift.RETAILER_CHANGED
        elif known_hub.get(row.hub_item_id) != row.hub_available:
            cause = Drift.HUB_CHANGED
        else:
            cause = Drift.TARGET_MOVED
        rows.append(
            {
                "sku": row.sku,
                "item_id": row.item_id,
                "known": before,
                "found": int(row.available),
                "target": int(row.target),
                "cause": cause.value,
            }
        )
    return pd.DataFrame(rows, columns=["sku", "item_id", "known", "found", "target", "cause"])


def updated_at_moves(probe: set[str], seen: set[str]) -> bool | None:
    """Whether a delta read (`updated_at:>…`) returned the levels we wrote before it.

    `probe`: items written (and applied) after the delta's lower bound and long enough
    before the read for search to have caught up; `seen`: items the read returned.
    None when there is nothing to judge by. False means the store's `updatedAt` does not
    move on quantity changes, and delta reads would miss changes (FACTS §10.2).
    """
    if not probe:
        return None
    return bool(probe & seen)
