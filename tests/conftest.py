"""Fixtures live in tests/fixtures/; each module is registered here once."""

import importlib.util

pytest_plugins = ["tests.fixtures.db"]
if importlib.util.find_spec("tests.fixtures.sim") is not None:
    pytest_plugins.append("tests.fixtures.sim")
pytest_plugins.append("tests.fixtures.flows")
