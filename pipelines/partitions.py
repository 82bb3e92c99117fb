"""Partitions: retailers are dynamic (the registry decides), time is hourly.

A partition is a deterministic `updated_at` window for one retailer, so re-running
one is always safe and a failure is fixed by a backfill of exactly that cell.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

PARTITIONS_START = "2026-10-01-00:00"

retailers_partitions = dg.DynamicPartitionsDefinition(name="retailers")

hourly_partitions = dg.HourlyPartitionsDefinition(
    start_date=PARTITIONS_START,
    timezone="UTC",
    # The open hour is a partition too, so the 15-minute schedule can run it.
    end_offset=1,
)

retailer_hourly_partitions = dg.MultiPartitionsDefinition(
    {"retailer": retailers_partitions, "hour": hourly_partitions}
)


def retailer_windows(partition_keys: list[str]) -> dict[str, list[tuple[datetime, datetime]]]:
    """Group a run's `retailer|hour` keys into merged [start, end) windows per retailer.

    A backfill run may carry many hourly partitions; reading Shopify once per
    contiguous span instead of once per hour is what makes a 7-day backfill cheap.
    """
    hours: dict[str, list[datetime]] = {}
    for key in partition_keys:
        multi = key if isinstance(key, dg.MultiPartitionKey) else _parse_multi(key)
        keys = multi.keys_by_dimension
        start = datetime.strptime(keys["hour"], "%Y-%m-%d-%H:%M").replace(tzinfo=UTC)
        hours.setdefault(keys["retailer"], []).append(start)
    windows: dict[str, list[tuple[datetime, datetime]]] = {}
    for retailer, starts in hours.items():
        merged: list[tuple[datetime, datetime]] = []
        for start in sorted(set(starts)):
            end = start + timedelta(hours=1)
            if merged and merged[-1][1] == start:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        windows[retailer] = merged
    return windows


def _parse_multi(key: str) -> dg.MultiPartitionKey:
    # Dimensions are sorted by name: "hour" comes before "retailer".
    hour, retailer = key.split("|", 1)
    return dg.MultiPartitionKey({"hour": hour, "retailer": retailer})


def partition_key(retailer: str, hour_start: datetime) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey(
        {"retailer": retailer, "hour": hour_start.strftime("%Y-%m-%d-%H:%M")}
    )
