"""The run's shared hub scan: one read for every retailer, extended only when needed."""

from datetime import UTC, datetime, timedelta

from flows.steps import SHARED_SCAN_MARGIN, RunReads

T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)


def _orders(*hours_ago: int) -> list[dict]:
    return [{"createdAt": (T0 - timedelta(hours=h)).isoformat()} for h in hours_ago]


def test_one_scan_serves_every_retailer_and_filters_to_each_since():
    scans: list[datetime] = []

    def scan(since):
        scans.append(since)
        return _orders(0, 2, 5, 9)

    reads = RunReads(floor=T0 - timedelta(hours=8))
    assert len(reads.hub_orders_since(T0 - timedelta(hours=3), scan)) == 2
    assert len(reads.hub_orders_since(T0 - timedelta(hours=6), scan)) == 3
    assert scans == [T0 - timedelta(hours=8) - SHARED_SCAN_MARGIN]  # one scan for both


def test_a_claim_older_than_the_floor_extends_the_scan_once():
    scans: list[datetime] = []
    reads = RunReads(floor=T0 - timedelta(hours=1))
    reads.hub_orders_since(T0, lambda since: scans.append(since) or [])
    reads.hub_orders_since(T0 - timedelta(days=3), lambda since: scans.append(since) or [])
    reads.hub_orders_since(T0 - timedelta(days=2), lambda since: scans.append(since) or [])
    assert scans == [T0 - timedelta(hours=1) - SHARED_SCAN_MARGIN, T0 - timedelta(days=3)]


def test_a_named_read_is_made_once_for_every_retailer_of_the_phase():
    from concurrent.futures import ThreadPoolExecutor

    reads, made = RunReads(floor=T0), []

    def read():
        made.append(1)
        return {"hub": len(made)}

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: reads.once("inventory:hub", read), range(8)))
    assert made == [1] and results == [{"hub": 1}] * 8
    assert RunReads(floor=T0).once("inventory:hub", read) == {"hub": 2}  # a new phase reads anew
