"""SKU matching between a retailer and the hub: exact unless the registry says otherwise (O11).

Shopify stores `'X '`, `' X'` and `'x'` as readily as `'X'`, and a retailer's SKU that differs
from the hub's only by surrounding whitespace or letter case is almost always a typo of it.
Matching it silently would hide the typo for ever (the landed line would no longer show what
the retailer has), and matching it by guess could pick the wrong product. So:

- a retailer SKU matches the hub SKU that is **exactly** equal, whatever the policy;
- otherwise, when the retailer's registry entry opts in (`sku_matching: {trim_whitespace,
  ignore_case}`), it matches the one hub SKU equal to it once surrounding whitespace is trimmed
  and/or letter case is ignored (`NORMALISED`: matched, and reported);
- if that normalisation gives several hub SKUs (`'abc'` and `'ABC'` at the hub), it matches
  none (`AMBIGUOUS`: the message names them all);
- a hub SKU the policy does not allow but that differs only by whitespace or letter case is a
  `NEAR_MISS`: not matched, with a message saying exactly what differs and which registry
  option would accept it;
- anything else is `UNKNOWN`.

Everything here is pure: the flows find the hub SKUs (`lookup_candidates` says which forms to
ask the hub for when the exact SKU is not found) and decide what a match means for an order, a
stock level or a shipment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class SkuMatching(BaseModel):
    """A retailer's SKU matching policy (its registry entry's `sku_matching`); exact by default.

    `trim_whitespace`: surrounding whitespace (spaces, tabs, non-breaking spaces, line breaks)
    is ignored on both sides. `ignore_case`: letter case is ignored on both sides. Whitespace
    inside a SKU always counts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trim_whitespace: bool = False
    ignore_case: bool = False

    @property
    def exact(self) -> bool:
        return not (self.trim_whitespace or self.ignore_case)

    def key(self, sku: str) -> str:
        """`sku` as this policy compares it."""
        if self.trim_whitespace:
            sku = sku.strip()
        if self.ignore_case:
            sku = sku.casefold()
        return sku

    def describe(self) -> str:
        """The registry setting, as an operator would write it."""
        return (
            f"sku_matching: {{trim_whitespace: {str(self.trim_whitespace).lower()}, "
            f"ignore_case: {str(self.ignore_case).lower()}}}"
        )


EXACT = SkuMatching()
#: Both normalisations: what a near miss is (and what pending demand is counted under).
LOOSE = SkuMatching(trim_whitespace=True, ignore_case=True)


class MatchKind(StrEnum):
    EXACT = "exact"
    NORMALISED = "normalised"  # matched under the retailer's opted-in normalisation
    NEAR_MISS = "near_miss"  # differs only by whitespace/case, and the policy does not allow it
    AMBIGUOUS = "ambiguous"  # the policy's normalisation gives several hub SKUs
    UNKNOWN = "unknown"


class SkuMatch(BaseModel):
    """How one retailer SKU matched the hub's SKUs.

    `hub_skus`: the one match (EXACT, NORMALISED), or every hub SKU it nearly matched
    (NEAR_MISS) or matched once normalised (AMBIGUOUS). `detail` says exactly what differs
    (NORMALISED, NEAR_MISS) or which SKUs collide (AMBIGUOUS); `fix` what an operator does
    about it (NEAR_MISS, AMBIGUOUS)."""

    model_config = ConfigDict(frozen=True)

    retailer_sku: str
    kind: MatchKind
    hub_skus: tuple[str, ...] = ()
    detail: str = ""
    fix: str = ""

    @property
    def matched(self) -> bool:
        return self.kind in (MatchKind.EXACT, MatchKind.NORMALISED)

    @property
    def hub_sku(self) -> str | None:
        """The hub SKU matched, or None when there is no (single) match."""
        return self.hub_skus[0] if self.matched else None

    @property
    def message(self) -> str:
        """`detail: fix` (a near miss or an ambiguity), as it reads in a quarantine message."""
        return f"{self.detail}: {self.fix}" if self.fix else self.detail

    @property
    def pair(self) -> str:
        """`'X ' → 'X'`: how a normalised match is reported (quotes show the whitespace)."""
        return pair_label(self.retailer_sku, self.hub_sku or "")


class HubSkus:
    """The hub's SKUs, indexed so that matching thousands of retailer SKUs stays linear."""

    def __init__(self, skus: Iterable[str]) -> None:
        self.exact = frozenset(s for s in skus if s)
        self._loose: dict[str, list[str]] = {}
        for sku in sorted(self.exact):
            self._loose.setdefault(LOOSE.key(sku), []).append(sku)

    def __contains__(self, sku: object) -> bool:
        return sku in self.exact

    def near(self, sku: str) -> list[str]:
        """Hub SKUs other than `sku` that differ from it only by whitespace or letter case."""
        return [h for h in self._loose.get(LOOSE.key(sku), ()) if h != sku]

    def match(self, retailer_sku: str, policy: SkuMatching = EXACT, retailer: str = "") -> SkuMatch:
        """How `retailer_sku` matches (see the module doc); `retailer` is named in the fix."""
        r = retailer_sku
        if r in self.exact:
            return SkuMatch(retailer_sku=r, kind=MatchKind.EXACT, hub_skus=(r,))
        near = self.near(r)
        if not near:
            return SkuMatch(retailer_sku=r, kind=MatchKind.UNKNOWN)
        allowed = [h for h in near if policy.key(h) == policy.key(r)]
        if len(allowed) == 1:
            (hub,) = allowed
            detail = describe_difference(r, hub)
            return SkuMatch(
                retailer_sku=r, kind=MatchKind.NORMALISED, hub_skus=(hub,), detail=detail
            )
        if allowed:
            names = " and ".join(repr(h) for h in allowed)
            return SkuMatch(
                retailer_sku=r,
                kind=MatchKind.AMBIGUOUS,
                hub_skus=tuple(allowed),
                detail=f"{r!r} matches several hub SKUs once normalised ({policy.describe()}): "
                f"{names}",
                fix="correct the SKU at the retailer to exactly one of them, or make the hub "
                "SKUs differ by more than whitespace or letter case",
            )
        if len(near) > 1:
            names = " and ".join(repr(h) for h in near)
            return SkuMatch(
                retailer_sku=r,
                kind=MatchKind.NEAR_MISS,
                hub_skus=tuple(near),
                detail=f"{r!r} differs only by whitespace or letter case from the hub's {names}",
                fix="correct the SKU at the retailer to exactly one of them (normalisation "
                "could not choose between them)",
            )
        (hub,) = near
        who = f"retailer '{retailer}'" if retailer else "the retailer"
        return SkuMatch(
            retailer_sku=r,
            kind=MatchKind.NEAR_MISS,
            hub_skus=(hub,),
            detail=describe_difference(r, hub),
            fix=f"correct the SKU at the retailer, or opt {who} into "
            f"{options_needed(r, hub).describe()} in the registry",
        )


def match_sku(
    retailer_sku: str,
    hub_skus: HubSkus | Iterable[str],
    policy: SkuMatching = EXACT,
    retailer: str = "",
) -> SkuMatch:
    """How one retailer SKU matches the hub's SKUs under `policy` (see the module doc)."""
    index = hub_skus if isinstance(hub_skus, HubSkus) else HubSkus(hub_skus)
    return index.match(retailer_sku, policy, retailer)


def same_sku(retailer_sku: str | None, hub_sku: str | None, policy: SkuMatching = EXACT) -> bool:
    """Whether a line with `retailer_sku` is the hub's `hub_sku` under `policy` (pairwise: for
    lines of an order already matched at import, such as a shipment's)."""
    if retailer_sku is None or hub_sku is None:
        return False
    return retailer_sku == hub_sku or policy.key(retailer_sku) == policy.key(hub_sku)


def pair_label(retailer_sku: str, hub_sku: str) -> str:
    """`'X ' → 'X'`: a normalised match as reports show it (the quotes show whitespace)."""
    return f"{retailer_sku!r} → {hub_sku!r}"


def lookup_candidates(skus: Iterable[str]) -> list[str]:
    """Forms to ask the hub for when these SKUs are not found exactly: trimmed, and trimmed
    in upper and lower case, so a near miss is found (and reported) whether or not the
    store's search ignores case. A hub SKU in mixed case (`'Abc-1'`) is found only by a
    search that ignores case, as Shopify's does."""
    asked = set(skus)
    out: list[str] = []
    for sku in skus:
        trimmed = sku.strip()
        for form in (trimmed, trimmed.upper(), trimmed.lower()):
            if form and form not in asked:
                asked.add(form)
                out.append(form)
    return out


def options_needed(retailer_sku: str, hub_sku: str) -> SkuMatching:
    """The least policy under which a near miss would match."""
    return SkuMatching(
        trim_whitespace=retailer_sku.casefold() != hub_sku.casefold(),
        ignore_case=retailer_sku.strip() != hub_sku.strip(),
    )


def fold_units(units: Mapping[str, int], hub: HubSkus, policy: SkuMatching) -> dict[str, int]:
    """Units per retailer SKU as units per hub SKU: each SKU moved onto the one hub SKU it
    matches under `policy`; the others kept as they are."""
    out: dict[str, int] = {}
    for sku, n in units.items():
        target = hub.match(sku, policy).hub_sku or sku
        out[target] = out.get(target, 0) + n
    return out


def describe_difference(retailer_sku: str, hub_sku: str) -> str:
    """Exactly what differs, e.g. `'X ' has a trailing space; the hub sells 'X'` or
    `'abc-1' differs in letter case from the hub's 'ABC-1'`."""
    r, h = retailer_sku, hub_sku
    on_retailer, on_hub = _whitespace(r), _whitespace(h)
    case = r.strip() != h.strip()
    if case:
        text = f"{r!r} " + (f"has {on_retailer} and " if on_retailer else "")
        text += f"differs in letter case from the hub's {h!r}"
        return text + (f" (which has {on_hub})" if on_hub else "")
    if on_retailer:
        text = f"{r!r} has {on_retailer}; the hub sells {h!r}"
        return text + (f" (which has {on_hub})" if on_hub else "")
    return f"the hub's {h!r} has {on_hub}; the retailer sells {r!r}"


_NAMES = {" ": "space", "\t": "tab", "\u00a0": "non-breaking space", "\n": "line break",
          "\r": "carriage return"}  # fmt: skip


def _whitespace(sku: str) -> str:
    """'a trailing space', '2 leading spaces and a trailing tab', or '' when there is none."""
    lead = sku[: len(sku) - len(sku.lstrip())]
    trail = sku[len(sku.rstrip()) :] if sku.strip() else ""
    parts = [_run(lead, "leading"), _run(trail, "trailing")]
    return " and ".join(p for p in parts if p)


def _run(chars: str, where: str) -> str:
    if not chars:
        return ""
    if len(set(chars)) > 1:
        return f"{where} whitespace {chars!r}"
    name = _NAMES.get(chars[0], f"whitespace character U+{ord(chars[0]):04X}")
    return f"a {where} {name}" if len(chars) == 1 else f"{len(chars)} {where} {name}s"
