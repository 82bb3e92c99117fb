"""Clients of one store in one process pace from the same bucket figure."""

from resources.shopify import ShopifyResource
from resources.shopify.throttle import ScaledClock


def test_clients_of_one_store_share_pacing_and_other_stores_do_not(monkeypatch):
    monkeypatch.setenv("SHOPSYNC_SHOPIFY_BASE_URL", "http://127.0.0.1:9")
    resource = ShopifyResource()
    with resource.get_client("hub") as first, resource.get_client("hub") as second:
        assert first.throttle is second.throttle
        with resource.get_client("epic-gardening") as other:
            assert other.throttle is not first.throttle
    with resource.get_client("hub", clock=ScaledClock(10)) as scaled:  # a test clock: its own
        assert scaled.throttle is not first.throttle
