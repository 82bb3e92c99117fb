"""Partitions: per flow, the registry's retailers with that flow enabled (× hourly windows
for the flows that follow records updated in a window).

An orders or fulfillments partition is a deterministic `updated_at` window for one
retailer, so re-running one is always safe and a failure is fixed by a backfill of
exactly that cell. An inventory partition is a retailer: stock has no history to
window, each run makes the retailer match the hub as it is now. Each
flow has its own retailer dimension (kept equal to the registry by the registry
sensor): a scheduled tick targets one rectangle — all of the flow's retailers × the
previous and current hour — and a retailer whose flow is off is never in it.
Hours start at the registry's `partitions_start`, so "failed and missing" covers the
days the system has run, not months before.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg

FLOWS = ("orders", "fulfillments", "inventory")
HOURLY_FLOWS = ("orders", "fulfillments")
HOUR_FORMAT = "%Y-%m-%d-%H:%M"


def retailers_partitions_name(flow: str) -> str:
    return f"{flow}_retailers"


def retailer_hourly_partitions(flow: str, start: date) -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition(
        {
            "retailer": dg.DynamicPartitionsDefinition(name=retailers_partitions_name(flow)),
            "hour": dg.HourlyPartitionsDefinition(
                start_date=f"{start:%Y-%m-%d}-00:00",
                timezone="UTC",
                # The open hour is a partition too, so the 15-minute schedule can run it.
                end_offset=1,
            ),
        }
    )


def retailer_partitions(flow: str) -> dg.DynamicPartitionsDefinition:
    """One partition per retailer with the flow enabled (the inventory flow)."""
    return dg.DynamicPartitionsDefinition(name=retailers_partitions_name(flow))


def retailer_of(key: str | dg.MultiPartitionKey) -> str:
    """The retailer of a `hour|retailer` key or of a plain retailer key."""
    text = str(key)
    return split_key(key)[0] if "|" in text else text


def describe_keys(keys: list[str]) -> str:
    """`hours A … B` for hourly keys, '' for retailer-only keys (the retailer is named)."""
    hours = sorted(k.split("|", 1)[0] for k in keys if "|" in k)
    return f", hours {hours[0]} … {hours[-1]}" if hours else ""


def split_key(key: str | dg.MultiPartitionKey) -> tuple[str, datetime]:
    """(retailer, hour start) of a `hour|retailer` key."""
    multi = key if isinstance(key, dg.MultiPartitionKey) else _parse_multi(key)
    keys = multi.keys_by_dimension
    return keys["retailer"], datetime.strptime(keys["hour"], HOUR_FORMAT).replace(tzinfo=UTC)


def keys_by_retailer(partition_keys: list[str]) -> dict[str, list[str]]:
    """The run's partition keys (as strings) grouped per retailer."""
    grouped: dict[str, list[str]] = {}
    for key in partition_keys:
        grouped.setdefault(retailer_of(key), []).append(str(key))
    return grouped


def retailer_windows(partition_keys: list[str]) -> dict[str, list[tuple[datetime, datetime]]]:
    """Group a run's `hour|retailer` keys into merged [start, end) windows per retailer.

    A run may carry many hourly partitions; reading Shopify once per contiguous span
    instead of once per hour is what makes a tick or a backfill cheap. A retailer-only
    key has no window: its retailer gets an empty list.
    """
    hours: dict[str, list[datetime]] = {}
    for key in partition_keys:
        if "|" not in str(key):
            hours.setdefault(str(key), [])
            continue
        retailer, start = split_key(key)
        hours.setdefault(retailer, []).append(start)
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
    return dg.MultiPartitionKey({"retailer": retailer, "hour": hour_start.strftime(HOUR_FORMAT)})


def tick_range(
    retailers: list[str], now: datetime, start: date, *, hourly: bool = True
) -> dg.PartitionKeyRange:
    """The rectangle a scheduled tick covers: `retailers` (first..last in partition
    order) × the previous and the current hour (only the current one in the first hour
    after `start`, the first partition); without hours, just the retailers."""
    if not hourly:
        return dg.PartitionKeyRange(start=retailers[0], end=retailers[-1])
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    first = max(hour - timedelta(hours=1), datetime(start.year, start.month, start.day, tzinfo=UTC))
    return dg.PartitionKeyRange(
        start=str(partition_key(retailers[0], min(first, hour))),
        end=str(partition_key(retailers[-1], hour)),
    )
