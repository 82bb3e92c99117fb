"""A local Shopify Admin GraphQL API for the demo, the tests and the benchmarks."""

from simulator.simulator import Simulator

__all__ = ["Simulator"]
