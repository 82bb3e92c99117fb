"""The simulator's SDL is a true subset of Shopify's real 2025-01 Admin schema.

Every type, field, argument, input field, enum value, union member and interface the SDL
declares must exist in the real schema with the same type string (``[String!]!``) and the same
default; the real schema's required arguments and input fields may not be left out (a document
valid against the subset would then be invalid at Shopify). The version patch may only hold
elements that are *absent* from 2025-01 and listed, with their changelog source, in
:data:`PATCH_ALLOW_LIST`.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from graphql import (
    DirectiveDefinitionNode,
    EnumTypeExtensionNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InputObjectTypeExtensionNode,
    InterfaceTypeExtensionNode,
    ObjectTypeExtensionNode,
    TypeDefinitionNode,
    Undefined,
    UnionTypeExtensionNode,
    build_schema,
    extend_schema,
    introspection_from_schema,
    is_required_argument,
    is_required_input_field,
    parse,
    specified_directives,
)

from tests.shopify_schema import (
    REPO_ROOT,
    SCHEMA_ENV,
    load_real_schema,
    real_schema_with_patch,
    require_real_schema,
    schema_path,
)

SDL_PATH = REPO_ROOT / "simulator" / "schema" / "admin_2025-01.graphql"
PATCH_PATH = REPO_ROOT / "simulator" / "schema" / "patch_2025-04_plus.graphql"

_CUSTOM_IDS = "2025-04: https://shopify.dev/changelog/posts/custom-ids-more-lookups"
_CAS = (
    "2026-01: https://shopify.dev/changelog/compare-and-swap-redesign-for-inventory-set-quantities"
)
_IDEMPOTENT = (
    "2026-01: https://shopify.dev/changelog/adding-idempotency-for-inventory-adjustments-and-"
    "refund-mutations ; https://shopify.dev/docs/api/admin-graphql/2026-01/enums/"
    "InventorySetQuantitiesUserErrorCode"
)
_REFUND_METHOD = (
    "2025-07: https://shopify.dev/changelog/ordercancel-mutation-now-supports-refunds-to-"
    "store-credit"
)
#: What Shopify added after 2025-01 that the patch may declare, with the changelog entry.
PATCH_ALLOW_LIST: dict[str, str] = {
    "QueryRoot.orderByIdentifier": _CUSTOM_IDS,
    "OrderIdentifierInput": _CUSTOM_IDS,
    "InventoryQuantityInput.changeFromQuantity": _CAS,
    "InventorySetQuantitiesUserErrorCode.CHANGE_FROM_QUANTITY_STALE": _CAS,
    "@idempotent": _IDEMPOTENT,
    "InventorySetQuantitiesUserErrorCode.IDEMPOTENCY_CONCURRENT_REQUEST": _IDEMPOTENT,
    "InventorySetQuantitiesUserErrorCode.IDEMPOTENCY_KEY_PARAMETER_MISMATCH": _IDEMPOTENT,
    "InventorySetQuantitiesUserErrorCode.IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED": _IDEMPOTENT,
    "InventoryLevel.isActive": "2026-04: https://shopify.dev/changelog/add-isactive-field-to-"
    "inventorylevel",
    "OrderCancelRefundMethodInput": _REFUND_METHOD,
    "OrderCancelStoreCreditRefundInput": _REFUND_METHOD,
}
_BUILT_IN_DIRECTIVES = {d.name for d in specified_directives}


# -- the checker ----------------------------------------------------------------------------


def subset_mismatches(subset: GraphQLSchema, real: GraphQLSchema) -> list[str]:
    """Every way ``subset`` is not a faithful subset of ``real``, one line each."""
    problems: list[str] = []
    for root in ("query", "mutation", "subscription"):
        mine, theirs = getattr(subset, f"{root}_type"), getattr(real, f"{root}_type")
        if mine is not None and (theirs is None or mine.name != theirs.name):
            problems.append(f"schema {root}: {mine.name}, real {theirs and theirs.name}")
    for name, mine in subset.type_map.items():
        if name.startswith("__"):
            continue
        theirs = real.type_map.get(name)
        if theirs is None:
            problems.append(f"{name}: type missing from the real schema")
        elif type(mine) is not type(theirs):
            problems.append(f"{name}: {_kind(mine)} here, {_kind(theirs)} in the real schema")
        else:
            problems.extend(_type_mismatches(name, mine, theirs))
    for directive in subset.directives:
        if (
            directive.name not in _BUILT_IN_DIRECTIVES
            and real.get_directive(directive.name) is None
        ):
            problems.append(f"@{directive.name}: directive missing from the real schema")
    return problems


def _kind(named: object) -> str:
    return type(named).__name__.removeprefix("GraphQL").removesuffix("Type").lower()


def _type_mismatches(name: str, mine: object, theirs: object) -> list[str]:
    problems: list[str] = []
    if isinstance(mine, GraphQLObjectType | GraphQLInterfaceType):
        assert isinstance(theirs, GraphQLObjectType | GraphQLInterfaceType)
        real_interfaces = {i.name for i in theirs.interfaces}
        problems += [
            f"{name}: implements {i.name} here, not in the real schema"
            for i in mine.interfaces
            if i.name not in real_interfaces
        ]
        for field_name, field in mine.fields.items():
            path = f"{name}.{field_name}"
            real_field = theirs.fields.get(field_name)
            if real_field is None:
                problems.append(f"{path}: field missing from the real schema")
                continue
            problems += _same_type(path, field.type, real_field.type)
            problems += _members(path, "argument", field.args, real_field.args)
            problems += [
                f"{path}({arg}): required argument missing here"
                for arg, real_arg in real_field.args.items()
                if is_required_argument(real_arg) and arg not in field.args
            ]
    elif isinstance(mine, GraphQLInputObjectType):
        assert isinstance(theirs, GraphQLInputObjectType)
        problems += _members(name, "input field", mine.fields, theirs.fields)
        problems += [
            f"{name}.{f}: required input field missing here"
            for f, real_field in theirs.fields.items()
            if is_required_input_field(real_field) and f not in mine.fields
        ]
    elif isinstance(mine, GraphQLEnumType):
        assert isinstance(theirs, GraphQLEnumType)
        problems += [
            f"{name}.{v}: enum value missing from the real schema"
            for v in mine.values
            if v not in theirs.values
        ]
    elif isinstance(mine, GraphQLUnionType):
        assert isinstance(theirs, GraphQLUnionType)
        real_members = {t.name for t in theirs.types}
        problems += [
            f"{name}: member {t.name} missing from the real union"
            for t in mine.types
            if t.name not in real_members
        ]
    return problems


def _same_type(path: str, mine: object, theirs: object) -> list[str]:
    return [] if str(mine) == str(theirs) else [f"{path}: type {mine} here, {theirs} real"]


def _members(owner: str, what: str, mine: dict, theirs: dict) -> list[str]:
    """Arguments or input fields: present, same type, same default."""
    problems: list[str] = []
    for member_name, member in mine.items():
        path = f"{owner}({member_name})" if what == "argument" else f"{owner}.{member_name}"
        real_member = theirs.get(member_name)
        if real_member is None:
            problems.append(f"{path}: {what} missing from the real schema")
            continue
        problems += _same_type(path, member.type, real_member.type)
        if member.default_value != real_member.default_value:
            problems.append(
                f"{path}: default {_show(member.default_value)} here, "
                f"{_show(real_member.default_value)} real"
            )
    return problems


def _show(value: object) -> str:
    return "none" if value is Undefined else repr(value)


def patch_elements(patch_sdl: str) -> list[str]:
    """What a patch declares: ``Type``, ``Type.field``, ``Enum.VALUE``, ``@directive``."""
    elements: list[str] = []
    for definition in parse(patch_sdl).definitions:
        if isinstance(definition, DirectiveDefinitionNode):
            elements.append(f"@{definition.name.value}")
        elif isinstance(definition, EnumTypeExtensionNode):
            owner = definition.name.value
            elements += [f"{owner}.{v.name.value}" for v in definition.values or ()]
        elif isinstance(definition, UnionTypeExtensionNode):
            owner = definition.name.value
            elements += [f"{owner}.{t.name.value}" for t in definition.types or ()]
        elif isinstance(
            definition,
            ObjectTypeExtensionNode | InterfaceTypeExtensionNode | InputObjectTypeExtensionNode,
        ):
            owner = definition.name.value
            elements += [f"{owner}.{f.name.value}" for f in definition.fields or ()]
        elif isinstance(definition, TypeDefinitionNode):
            elements.append(definition.name.value)
        else:
            elements.append(f"<unsupported {definition.kind}>")
    return elements


def present_in(real: GraphQLSchema, element: str) -> bool:
    """Whether a patch element already exists in ``real`` (then it is no later addition)."""
    if element.startswith("@"):
        return real.get_directive(element[1:]) is not None
    owner, _, member = element.partition(".")
    named = real.get_type(owner)
    if not member or named is None:
        return named is not None
    if isinstance(named, GraphQLEnumType):
        return member in named.values
    if isinstance(named, GraphQLUnionType):
        return any(t.name == member for t in named.types)
    return member in getattr(named, "fields", {})


# -- the checker checks itself (no real schema needed) --------------------------------------

FAKE_REAL = build_schema("""
schema { query: QueryRoot }
interface Node { id: ID! }
enum Status { OPEN CLOSED }
input Filter { tag: String need: Int! }
type Order implements Node { id: ID! tags: [String!]! status: Status }
union Thing = Order
type QueryRoot {
  order(id: ID!): Order
  orders(first: Int, reverse: Boolean = false, query: String): [Order!]!
  find(filter: Filter): Thing
}
""")


def test_checker_accepts_a_true_subset():
    subset = build_schema("""
    schema { query: QueryRoot }
    interface Node { id: ID! }
    type Order implements Node { id: ID! tags: [String!]! }
    type QueryRoot { order(id: ID!): Order orders(first: Int, reverse: Boolean = false): [Order!]! }
    """)
    assert subset_mismatches(subset, FAKE_REAL) == []


def test_checker_lists_every_kind_of_mismatch():
    subset = build_schema("""
    schema { query: Query }
    directive @mine on FIELD
    enum Status { OPEN SHIPPED }
    input Filter { tag: [String!] }
    type Order { id: ID tags: [String!]! note: String status: Status }
    type Extra { x: Int }
    union Thing = Order | Extra
    type Query {
      order(id: ID!, at: String): Order
      orders(first: Int, reverse: Boolean = true): [Order!]!
      find(filter: Filter): Thing
      extra: Extra
    }
    """)
    problems = subset_mismatches(subset, FAKE_REAL)
    expected = [
        "schema query: Query, real QueryRoot",
        "Order.id: type ID here, ID! real",
        "Order.note: field missing from the real schema",
        "Status.SHIPPED: enum value missing from the real schema",
        "Filter.tag: type [String!] here, String real",
        "Filter.need: required input field missing here",
        "Thing: member Extra missing from the real union",
        "Extra: type missing from the real schema",
        "Query: type missing from the real schema",
        "@mine: directive missing from the real schema",
    ]
    for line in expected:
        assert line in problems
    assert len(problems) == len(expected)


def test_checker_compares_arguments_and_defaults():
    real = build_schema("type Query { orders(first: Int, reverse: Boolean = false, q: ID!): Int }")
    subset = build_schema(
        "type Query { orders(first: String, reverse: Boolean = true, z: Int): Int }"
    )
    assert sorted(subset_mismatches(subset, real)) == [
        "Query.orders(first): type String here, Int real",
        "Query.orders(q): required argument missing here",
        "Query.orders(reverse): default True here, False real",
        "Query.orders(z): argument missing from the real schema",
    ]


def test_patch_elements_and_presence():
    patch = """
    directive @idempotent(key: String!) on FIELD
    extend type QueryRoot { orderByIdentifier(id: ID!): Order }
    extend enum Status { ARCHIVED OPEN }
    input OrderIdentifierInput { id: ID }
    input Filter { tag: String }
    """
    elements = patch_elements(patch)
    assert elements == [
        "@idempotent",
        "QueryRoot.orderByIdentifier",
        "Status.ARCHIVED",
        "Status.OPEN",
        "OrderIdentifierInput",
        "Filter",
    ]
    assert [e for e in elements if present_in(FAKE_REAL, e)] == ["Status.OPEN", "Filter"]


# -- the real thing ---------------------------------------------------------------------------


def _read(path: Path) -> str:
    if not path.is_file():
        pytest.fail(f"{path.relative_to(REPO_ROOT)} is missing: the simulator needs its schema")
    return path.read_text()


def test_simulator_sdl_is_a_subset_of_the_real_schema():
    real = require_real_schema()
    problems = subset_mismatches(build_schema(_read(SDL_PATH)), real)
    assert not problems, "simulator SDL differs from Shopify 2025-01:\n" + "\n".join(problems)


def test_base_sdl_leaves_later_additions_to_the_patch():
    sdl = build_schema(_read(SDL_PATH))
    assert sdl.get_directive("idempotent") is None, "@idempotent belongs in the version patch"


def test_patch_holds_only_documented_later_additions():
    real = require_real_schema()
    elements = patch_elements(_read(PATCH_PATH))
    problems = [
        f"{e}: already in 2025-01, not a later addition" for e in elements if present_in(real, e)
    ]
    problems += [
        f"{e}: not in PATCH_ALLOW_LIST (add it with its changelog source)"
        for e in elements
        if e not in PATCH_ALLOW_LIST and not present_in(real, e)
    ]
    assert not problems, "version patch problems:\n" + "\n".join(problems)


def test_patch_extends_the_real_schema_and_the_sdl():
    require_real_schema()
    patch = _read(PATCH_PATH)
    patched = real_schema_with_patch(patch)
    assert patched.query_type is not None
    extend_schema(build_schema(_read(SDL_PATH)), parse(patch))


# -- the shared loader ------------------------------------------------------------------------


@pytest.mark.parametrize("wrapped", [True, False], ids=["data", "__schema"])
@pytest.mark.parametrize("suffix", [".json.gz", ".json"])
def test_loader_reads_either_introspection_shape(tmp_path, monkeypatch, wrapped, suffix):
    introspection = introspection_from_schema(FAKE_REAL)
    payload = {"data": introspection} if wrapped else introspection
    path = tmp_path / f"schema{suffix}"
    opener = gzip.open if suffix.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as handle:
        json.dump(payload, handle)
    monkeypatch.setenv(SCHEMA_ENV, str(path))
    assert schema_path() == path
    loaded = load_real_schema()
    assert loaded is not None
    assert subset_mismatches(FAKE_REAL, loaded) == []
    assert (
        real_schema_with_patch("extend type Order { more: Int }").get_type("Order").fields["more"]
    )


def test_loader_returns_none_when_the_file_is_absent(tmp_path, monkeypatch):
    monkeypatch.setenv(SCHEMA_ENV, str(tmp_path / "nope.json.gz"))
    assert load_real_schema() is None
    with pytest.raises(FileNotFoundError, match=SCHEMA_ENV):
        real_schema_with_patch("directive @x on FIELD")
