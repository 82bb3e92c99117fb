"""The real Shopify Admin API schema, for tests that check our SDL and our documents against it.

Why a shared module: the simulator's conformance test and the Shopify client's document tests
must judge against the *same* schema (2025-01 introspection, plus the same version patch of
later additions), loaded once per test session. The file lives outside the repository
(``../shared/shopify/admin_schema_2025-01.json.gz`` beside the repo root) or wherever
``SHOPSYNC_SHOPIFY_SCHEMA`` points; tests skip with :data:`MISSING_MESSAGE` when it is absent.
"""

from __future__ import annotations

import gzip
import json
import os
from functools import cache
from pathlib import Path

from graphql import GraphQLSchema, build_client_schema, extend_schema, parse

from simulator.schema import add_later_arguments

__all__ = [
    "MISSING_MESSAGE",
    "SCHEMA_ENV",
    "load_real_schema",
    "load_schema_file",
    "real_schema_with_patch",
    "require_real_schema",
    "schema_path",
]

SCHEMA_ENV = "SHOPSYNC_SHOPIFY_SCHEMA"
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCHEMA = REPO_ROOT.parent / "shared" / "shopify" / "admin_schema_2025-01.json.gz"


def schema_path() -> Path:
    """Where the real schema is expected: ``$SHOPSYNC_SHOPIFY_SCHEMA`` or the shared folder."""
    configured = os.environ.get(SCHEMA_ENV)
    return Path(configured).expanduser() if configured else DEFAULT_SCHEMA


MISSING_MESSAGE = (
    "real Shopify Admin schema not found at {path}: put the 2025-01 introspection JSON "
    f"(optionally gzipped) there, or point {SCHEMA_ENV} at it"
)


def load_schema_file(path: Path) -> GraphQLSchema:
    """Build a schema from an introspection result, gzipped or not, whose top level is
    ``{"data": {"__schema": …}}`` (a raw response) or ``{"__schema": …}``."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        raw = json.load(handle)
    introspection = raw.get("data", raw)
    if "__schema" not in introspection:
        raise ValueError(f"{path} is not an introspection result: no __schema at the top level")
    return build_client_schema(introspection)


@cache
def _load(path: Path) -> GraphQLSchema | None:
    return load_schema_file(path) if path.is_file() else None


def load_real_schema() -> GraphQLSchema | None:
    """The real 2025-01 schema, or None when the file is absent (cached per path)."""
    return _load(schema_path())


def require_real_schema() -> GraphQLSchema:
    """The real schema, or skip the calling test with a message saying where to put it."""
    schema = load_real_schema()
    if schema is None:
        import pytest

        pytest.skip(MISSING_MESSAGE.format(path=schema_path()))
    return schema


@cache
def _with_patch(path: Path, patch_sdl: str) -> GraphQLSchema:
    base = _load(path)
    if base is None:
        raise FileNotFoundError(MISSING_MESSAGE.format(path=path))
    return add_later_arguments(extend_schema(base, parse(patch_sdl)), patch_sdl)


def real_schema_with_patch(patch_sdl: str) -> GraphQLSchema:
    """The real schema extended with a version patch (fields Shopify added after 2025-01),
    so documents for newer API versions validate. Raises FileNotFoundError when the real
    schema is absent (call :func:`require_real_schema` first to skip instead), and graphql's
    TypeError when the patch redefines something the real schema already has."""
    return _with_patch(schema_path(), patch_sdl)
