"""Every GraphQL document: valid against the real schema, known by name, under the cost cap.

Documents named `*_YYYY_MM.graphql` target a later API version: they are validated against
the real 2025-01 schema extended with the sections of `simulator/schema/patch_2025-04_plus.graphql`
(H1's documented changelog patch) up to that version. Types the real 2025-01 schema already
has are dropped from the patch before extending (the patch was written for the simulator's SDL
subset, where they are missing).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from graphql import parse, print_ast, validate
from graphql.language import TypeDefinitionNode

from resources.shopify import versions
from resources.shopify.operations import (
    GRAPHQL_DIR,
    load_operation,
    operation_names,
    parse_operation,
)
from simulator.cost import MAX_SINGLE_QUERY_COST, calculate_requested_cost
from simulator.schema import later_arguments
from tests.shopify_schema import real_schema_with_patch, require_real_schema

REPO = Path(__file__).resolve().parents[2]
PATCH = REPO / "simulator" / "schema" / "patch_2025-04_plus.graphql"
_VERSIONED = re.compile(r"_(\d{4})_(\d{2})$")
_SINCE = re.compile(r"^# @since (\d{4}-\d{2})\s*$", re.MULTILINE)


def target_version(name: str) -> str | None:
    match = _VERSIONED.search(name)
    return f"{match.group(1)}-{match.group(2)}" if match else None


def patch_up_to(version: str, schema) -> str:
    """The patch sections whose `@since` ≤ version, minus types the schema already has."""
    text = PATCH.read_text()
    marks = list(_SINCE.finditer(text))
    parts = []
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        if mark.group(1) <= version:
            parts.append(text[mark.end() : end])
    document = parse("\n".join(parts))
    kept = [
        d
        for d in document.definitions
        if not (isinstance(d, TypeDefinitionNode) and schema.get_type(d.name.value) is not None)
    ]
    arguments = [f"# @argument {t}.{f}({d})" for t, f, d in later_arguments("\n".join(parts))]
    return "\n".join([print_ast(document.__class__(definitions=tuple(kept))), *arguments])


def schema_for(name: str):
    real = require_real_schema()
    version = target_version(name)
    if version is None or version <= "2025-01":
        return real
    return real_schema_with_patch(patch_up_to(version, real))


def test_there_are_documents() -> None:
    assert len(operation_names()) >= 10


@pytest.mark.parametrize("name", operation_names())
def test_document_validates_against_the_real_schema(name: str) -> None:
    op = load_operation(name)
    errors = validate(schema_for(name), op.ast)
    assert not errors, f"{name}.graphql: " + "; ".join(e.message for e in errors)


def test_versioned_inventory_document_is_invalid_in_2025_01() -> None:
    """The patch is what makes the 2026-04 file valid: without it, it must fail."""
    errors = validate(require_real_schema(), load_operation("inventory_set_quantities_2026_04").ast)
    assert any("idempotent" in e.message for e in errors)


def _variables_at_page_size(name: str) -> dict:
    op = load_operation(name)
    variables: dict = {}
    if op.page_size is not None:
        variables["first"] = op.page_size
    if op.max_ids is not None:
        variables["ids"] = [f"gid://shopify/Node/{i}" for i in range(op.max_ids)]
    return variables


@pytest.mark.parametrize("name", operation_names())
def test_requested_cost_at_page_size_is_under_the_single_query_cap(name: str) -> None:
    op = load_operation(name)
    cost = calculate_requested_cost(schema_for(name), op.ast, _variables_at_page_size(name))
    assert cost < MAX_SINGLE_QUERY_COST, (
        f"{name}.graphql requests {cost} points at page size {op.page_size} / "
        f"{op.max_ids} ids: lower `# shopsync: page_size=` or `max_ids=`"
    )


@pytest.mark.parametrize("name", operation_names())
def test_client_estimate_matches_the_cost_model(name: str) -> None:
    """Pacing starts right on the first call, before Shopify reports a real figure."""
    op = load_operation(name)
    variables = _variables_at_page_size(name)
    assert op.estimate_cost(variables) == calculate_requested_cost(
        schema_for(name), op.ast, variables
    )


SEND_METHODS = {"execute", "mutate", "paginate", "load_operation"}
_OPERATION_NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # not SQL passed to cursor.execute
CODE_DIRS = ("resources", "assets", "flows", "sync", "pipelines", "checks", "bench")


def operation_literals() -> set[tuple[str, str]]:
    """(file, name) for every string literal passed as the operation to a send method,
    and every module constant named `*_OPERATION`."""
    found: set[tuple[str, str]] = set()
    for folder in CODE_DIRS:
        for path in (REPO / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and node.args:
                    func = node.func
                    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    first = node.args[0]
                    if (
                        name in SEND_METHODS
                        and isinstance(first, ast.Constant)
                        and isinstance(first.value, str)
                        and _OPERATION_NAME.match(first.value)
                    ):
                        found.add((str(path.relative_to(REPO)), first.value))
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                    for target in node.targets:
                        if isinstance(target, ast.Name) and target.id.endswith("_OPERATION"):
                            found.add((str(path.relative_to(REPO)), node.value.value))
    return found


def test_every_operation_the_code_sends_is_a_file() -> None:
    literals = operation_literals()
    assert ("resources/shopify/bulk.py", "bulk_operation_run_query") in literals  # the scan works
    names = set(operation_names())
    missing = sorted(f"{where}: {name}" for where, name in literals if name not in names)
    assert not missing, "operations without a .graphql file: " + ", ".join(missing)
    for version in ("2025-01", "2025-10", "2026-04", "2026-07"):
        assert versions.inventory_set_operation(version) in names


def test_mutations_are_unsafe_to_resend_unless_declared() -> None:
    assert not load_operation("orders_create_hub").idempotent
    assert not load_operation("fulfillments_create_retailer").idempotent
    assert load_operation("tags_add").idempotent  # pragma
    assert load_operation("inventory_set_quantities_2026_04").idempotent  # @idempotent directive
    assert load_operation("shop_info").idempotent  # queries


def test_pragmas_set_page_size_and_id_limits() -> None:
    op = parse_operation(
        "x",
        "# shopsync: page_size=40 max_ids=20\n"
        "query X($first: Int!, $ids: [ID!]!) { nodes(ids: $ids) { id } }",
    )
    assert (op.page_size, op.max_ids, op.idempotent) == (40, 20, True)
    with pytest.raises(ValueError, match="page_size"):
        parse_operation("y", "# shopsync: page_size=300\nquery Y($first: Int!) { shop { id } }")
    with pytest.raises(ValueError, match="exactly one operation"):
        parse_operation("z", "query A { shop { id } } query B { shop { id } }")


def test_documents_live_in_the_package_folder() -> None:
    assert GRAPHQL_DIR == REPO / "resources" / "shopify" / "graphql"
