"""Partitions: retailers are dynamic (the registry decides), time is hourly.

A partition is a deterministic `updated_at` window for one retailer, so re-running
one is always safe and a failure is fixed by a backfill of exactly that cell.
"""

from __future__ import annotations

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
