"""What the UI should show, from the project itself: the Definitions the code server loads
(built here with the test's registry, which only changes the partitions) and the
registry's retailers. Nothing about the asset graph is hard-coded in the test.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from assets.partitions import FLOWS
from resources.registry import load_registry


@dataclass(frozen=True)
class Expected:
    defs: dg.Definitions
    retailers: dict[str, list[str]]  # flow -> registry retailers with it enabled, in order

    @property
    def graph(self):
        return self.defs.resolve_asset_graph()

    @property
    def assets(self) -> set[str]:
        return {k.to_user_string() for k in self.graph.get_all_asset_keys()}

    @property
    def edges(self) -> set[tuple[str, str]]:
        """(upstream, downstream) of every dependency."""
        return {
            (parent.to_user_string(), key.to_user_string())
            for key in self.graph.get_all_asset_keys()
            for parent in self.graph.get(key).parent_keys
        }

    def checks(self, asset: str) -> list[str]:
        return sorted(c.name for c in self.graph.get(dg.AssetKey(asset)).check_keys)

    def hourly_assets(self) -> list[tuple[str, str]]:
        """(asset, flow) of every retailer × hour asset (the flow is its group)."""
        found = []
        for key in sorted(self.graph.get_all_asset_keys()):
            node = self.graph.get(key)
            pdef = node.partitions_def
            dims = {d.name for d in getattr(pdef, "partitions_defs", ())}
            if isinstance(pdef, dg.MultiPartitionsDefinition) and dims == {"retailer", "hour"}:
                found.append((key.to_user_string(), node.group_name))
        return found

    def hour_count(self, asset: str) -> int:
        """Hours of the asset's hour dimension now (from `partitions_start`)."""
        pdef = self.graph.get(dg.AssetKey(asset)).partitions_def
        return len(pdef.get_partitions_def_for_dimension("hour").get_partition_keys())


def expected_for(registry_path: Path) -> Expected:
    """Build the Definitions as the code server does with $SHOPSYNC_REGISTRY set."""
    # Imported first, on the environment's registry: importing builds the module's own
    # `defs`, which later tests of the session use; only this call sees the e2e registry.
    from pipelines.definitions import build_definitions

    before = os.environ.get("SHOPSYNC_REGISTRY")
    os.environ["SHOPSYNC_REGISTRY"] = str(registry_path)
    try:
        defs = build_definitions()
        registry = load_registry(registry_path)
    finally:
        if before is None:
            os.environ.pop("SHOPSYNC_REGISTRY", None)
        else:
            os.environ["SHOPSYNC_REGISTRY"] = before
    retailers = {flow: [r.key for r in registry.enabled_retailers(flow)] for flow in FLOWS}
    return Expected(defs, retailers)
