"""Fixtures live in tests/fixtures/; each module is registered here once."""

import importlib.util

pytest_plugins = ["tests.fixtures.db"]
if importlib.util.find_spec("tests.fixtures.sim") is not None:
    pytest_plugins.append("tests.fixtures.sim")
pytest_plugins.append("tests.fixtures.flows")


import os  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _registry_env_restored():
    """`shopsync --registry X` exports SHOPSYNC_REGISTRY for the processes it starts;
    a CLI test must not leave its registry behind for the next test."""
    before = os.environ.get("SHOPSYNC_REGISTRY")
    yield
    if before is None:
        os.environ.pop("SHOPSYNC_REGISTRY", None)
    else:
        os.environ["SHOPSYNC_REGISTRY"] = before
