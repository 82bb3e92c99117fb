"""Shopify's calculated query cost, over graphql-core 3.2 ASTs.

Why this exists: the client paces itself by the points the server reports, and a query whose
requested cost exceeds 1,000 is refused before it runs. The simulator has to charge the same
way Shopify does, or the client's pacing and the benchmarks measure nothing real.

The rules (``../shared/shopify/FACTS.md`` §1.2, with the numbers observed in real responses):

- scalars and enums cost 0, ``__typename`` 0;
- an object costs 1 plus its selection;
- a connection (an object type named ``…Connection``) costs 2 plus ``first``/``last`` × the cost
  of one node, where one node is the selection under ``nodes`` or under ``edges { node }``
  (``pageInfo`` and ``cursor`` are free; when both ``nodes`` and ``edges`` are selected the
  dearer of the two counts once, since they return the same objects). Without ``first``/``last``
  it costs 2 (Shopify reports 2 in its "must provide first or last" error);
- a list of objects that is not a connection counts ``first`` (else ``len(ids)``, else 1)
  objects;
- an interface or union costs the dearest of its possible selections;
- a mutation root field costs 10; the *requested* cost adds its payload selection (observed:
  ``fulfillmentCreate`` requested 23, actual 10), the *actual* cost is 10.

The *actual* cost walks the result data instead of ``first``: ``productVariants(first: 250)
{ nodes { id } }`` is requested 252 and, with 10 rows returned, actually 12. Null objects
cost 0 in the actual cost (nothing was returned).

Fragments (named, inline), variables (with their defaults) and ``@skip``/``@include`` are
resolved through graphql-core's own field collection, so the arithmetic sees exactly what the
executor runs. Functions work on any ``GraphQLSchema``, the real 2025-01 one included; they
assume the document has passed validation (unknown fields are simply free).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_object_type,
    value_from_ast,
    value_from_ast_untyped,
)
from graphql.execution.collect_fields import collect_fields, collect_sub_fields
from graphql.execution.values import get_variable_values

__all__ = [
    "MAX_SINGLE_QUERY_COST",
    "MUTATION_COST",
    "calculate_actual_cost",
    "calculate_requested_cost",
]

#: A single query may not request more than this (FACTS §1.3): MAX_COST_EXCEEDED above it.
MAX_SINGLE_QUERY_COST = 1000
#: Cost of each mutation root field (FACTS §1.2).
MUTATION_COST = 10
CONNECTION_BASE_COST = 2

_REQUESTED = object()  # marker: no result data, count the worst case


def calculate_requested_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None,
    operation_name: str | None = None,
) -> int:
    """Static worst-case cost, decided before execution (throttling compares this)."""
    return _Walker(schema, document, variables, operation_name).total(_REQUESTED)


def calculate_actual_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None,
    result_data: Mapping[str, Any] | None,
    operation_name: str | None = None,
) -> int:
    """Cost of what was actually returned; the bucket is refunded ``requested - actual``."""
    if result_data is None:
        return 0
    return _Walker(schema, document, variables, operation_name).total(result_data)


_CONNECTION, _LIST, _OBJECT = "connection", "list", "object"


class _Selection:
    """One non-leaf field of a selection set and what its cost depends on. The plans of its
    own selection are memoised here: actual cost revisits them for every returned row."""

    __slots__ = (
        "abstract", "candidates", "field_def", "key", "name", "named", "nodes", "plans", "shape"
    )  # fmt: skip

    def __init__(self, key: str, field_def: GraphQLField, nodes: list[FieldNode]) -> None:
        self.key = key  # response key (alias or name)
        self.name = nodes[0].name.value
        self.field_def = field_def
        self.nodes = nodes  # every AST node merged under the key
        self.named: Any = get_named_type(field_def.type)
        self.abstract = is_abstract_type(self.named)
        if is_object_type(self.named) and self.named.name.endswith("Connection"):
            self.shape = _CONNECTION
        elif is_list_type(get_nullable_type(field_def.type)):
            self.shape = _LIST
        else:
            self.shape = _OBJECT
        self.plans: dict[str, list[_Selection]] = {}  # runtime type name -> sub-selections
        self.candidates: list[GraphQLNamedType] | None = None  # for abstract types


class _Walker:
    """One cost computation: the operation, its fragments and coerced variables."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
    ) -> None:
        self.schema = schema
        self.fragments: dict[str, FragmentDefinitionNode] = {}
        operations: list[OperationDefinitionNode] = []
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                self.fragments[definition.name.value] = definition
            elif isinstance(definition, OperationDefinitionNode):
                operations.append(definition)
        self.operation = _pick_operation(operations, operation_name)
        self.variables = self._coerce_variables(dict(variables or {}))

    def _coerce_variables(self, raw: dict[str, Any]) -> dict[str, Any]:
        if self.operation is None:
            return raw
        coerced = get_variable_values(self.schema, self.operation.variable_definitions, raw)
        if isinstance(coerced, list):  # invalid variables: execution will report them
            return raw
        return coerced

    def total(self, data: Any) -> int:
        operation = self.operation
        if operation is None:
            return 0
        root = {
            OperationType.QUERY: self.schema.query_type,
            OperationType.MUTATION: self.schema.mutation_type,
            OperationType.SUBSCRIPTION: self.schema.subscription_type,
        }[operation.operation]
        if root is None:
            return 0
        fields = collect_fields(
            self.schema, self.fragments, self.variables, root, operation.selection_set
        )
        plan = self._make_plan(root, fields)
        if operation.operation != OperationType.MUTATION:
            return self._fields(plan, data)
        mutations = sum(1 for nodes in fields.values() if nodes[0].name.value in root.fields)
        if data is not _REQUESTED:
            return MUTATION_COST * mutations
        return MUTATION_COST * mutations + sum(self._children(sel, data) for sel in plan)

    # -- selections -------------------------------------------------------------------------

    def _fields(self, plan: list[_Selection], data: Any) -> int:
        total = 0
        for sel in plan:
            if data is _REQUESTED:
                value = _REQUESTED
            else:
                value = data.get(sel.key) if isinstance(data, Mapping) else None
            total += self._field(sel, value)
        return total

    def _field(self, sel: _Selection, value: Any) -> int:
        if sel.shape is _CONNECTION:
            return self._connection(sel, value)
        if sel.shape is _LIST:
            size = self._list_size(sel.field_def, sel.nodes[0]) if value is _REQUESTED else 1
            return size * self._each(sel, value)
        return self._object(sel, value)

    def _each(self, sel: _Selection, value: Any) -> int:
        """Requested: the cost of one list item. Actual: the sum over the returned items."""
        if value is _REQUESTED:
            return self._object(sel, value)
        return sum(self._object(sel, item) for item in _flatten(value))

    def _object(self, sel: _Selection, value: Any) -> int:
        if value is None:
            return 0
        return 1 + self._children(sel, value)

    def _children(self, sel: _Selection, value: Any) -> int:
        if not sel.abstract:
            return self._fields(self._plan(sel, sel.named), value)
        candidates = self._candidate_types(sel)
        if isinstance(value, Mapping) and "__typename" in value:
            runtime = self.schema.get_type(str(value["__typename"]))
            if runtime is not None and runtime in candidates:
                candidates = [runtime]
            elif runtime is not None:
                candidates = [sel.named]
        return max(self._fields(self._plan(sel, t), value) for t in candidates)

    def _connection(self, sel: _Selection, value: Any) -> int:
        if value is None:
            return 0
        per_nodes = per_edges = other = 0
        for sub in self._plan(sel, sel.named):
            sub_value = _sub_value(value, sub.key)
            if sub.name == "nodes":
                per_nodes = self._each(sub, sub_value)
            elif sub.name == "edges":
                per_edges = self._edges(sub, sub_value)
            elif sub.name != "pageInfo":
                other += self._field(sub, sub_value)
        objects = max(per_nodes, per_edges)
        if value is _REQUESTED:  # so far: the cost of one node
            objects *= self._page_size(sel.nodes[0])
        return CONNECTION_BASE_COST + objects + other

    def _edges(self, sel: _Selection, value: Any) -> int:
        """Edges are free; each edge's ``node`` (and any other object on it) is not."""
        plan = self._plan(sel, sel.named)
        items = [_REQUESTED] if value is _REQUESTED else _flatten(value)
        return sum(self._field(sub, _sub_value(edge, sub.key)) for edge in items for sub in plan)

    def _plan(self, sel: _Selection, parent: Any) -> list[_Selection]:
        """The costly fields selected under ``sel`` when its runtime type is ``parent``."""
        plan = sel.plans.get(parent.name)
        if plan is None:
            fields = collect_sub_fields(
                self.schema, self.fragments, self.variables, parent, sel.nodes
            )
            plan = sel.plans[parent.name] = self._make_plan(parent, fields)
        return plan

    @staticmethod
    def _make_plan(parent: Any, fields: Mapping[str, list[FieldNode]]) -> list[_Selection]:
        """Fields merged by response key, minus leaves, ``__typename`` and unknown fields."""
        parent_fields = getattr(parent, "fields", None) or {}
        plan: list[_Selection] = []
        for key, field_nodes in fields.items():
            field_def = parent_fields.get(field_nodes[0].name.value)
            if field_def is not None and not is_leaf_type(get_named_type(field_def.type)):
                plan.append(_Selection(key, field_def, field_nodes))
        return plan

    # -- arguments --------------------------------------------------------------------------

    def _page_size(self, node: FieldNode) -> int:
        """``first`` or ``last`` of a connection field (0 when neither: base cost only)."""
        for name in ("first", "last"):
            size = self._int_argument(node, name)
            if size is not None:
                return max(size, 0)
        return 0

    def _list_size(self, field_def: GraphQLField, node: FieldNode) -> int:
        first = self._int_argument(node, "first")
        if first is not None:
            return max(first, 0)
        ids = self._argument(node, "ids", field_def)
        if isinstance(ids, list):
            return len(ids)
        return 1

    def _int_argument(self, node: FieldNode, name: str) -> int | None:
        value = self._argument(node, name, None)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def _argument(self, node: FieldNode, name: str, field_def: GraphQLField | None) -> Any:
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            if isinstance(argument.value, VariableNode):
                return self.variables.get(argument.value.name.value)
            arg_def = field_def.args.get(name) if field_def is not None else None
            if arg_def is not None:
                return value_from_ast(argument.value, arg_def.type, self.variables)
            return value_from_ast_untyped(argument.value, self.variables)
        return None

    # -- abstract types --------------------------------------------------------------------

    def _candidate_types(self, sel: _Selection) -> list[GraphQLNamedType]:
        """The abstract type itself (its shared fields) plus each possible type that some
        fragment in the selection narrows to: the only runtime types whose cost can differ."""
        if sel.candidates is not None:
            return sel.candidates
        abstract = sel.named
        conditions: set[str] = set()
        for node in sel.nodes:
            if node.selection_set:
                self._type_conditions(node.selection_set, conditions, set())
        found = [abstract]
        for cond in sorted(conditions):
            cond_type = self.schema.get_type(cond)
            if cond_type is None or cond_type is abstract:
                continue
            narrowed = (
                self.schema.get_possible_types(cond_type)  # type: ignore[arg-type]
                if is_abstract_type(cond_type)
                else [cond_type]
            )
            for possible in narrowed:
                if possible not in found and self.schema.is_sub_type(abstract, possible):
                    found.append(possible)
        sel.candidates = found
        return found

    def _type_conditions(self, selection_set: SelectionSetNode, out: set[str], seen: set) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, InlineFragmentNode):
                if selection.type_condition is not None:
                    out.add(selection.type_condition.name.value)
                self._type_conditions(selection.selection_set, out, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue
                seen.add(name)
                out.add(fragment.type_condition.name.value)
                self._type_conditions(fragment.selection_set, out, seen)


def _pick_operation(
    operations: list[OperationDefinitionNode], name: str | None
) -> OperationDefinitionNode | None:
    if name is not None:
        return next((op for op in operations if op.name and op.name.value == name), None)
    return operations[0] if len(operations) == 1 else None


def _sub_value(value: Any, key: str) -> Any:
    if value is _REQUESTED:
        return _REQUESTED
    return value.get(key) if isinstance(value, Mapping) else None


def _flatten(value: Any) -> list[Any]:
    """Items of a (possibly nested, possibly null) list in result data."""
    if not isinstance(value, list):
        return []
    items: list[Any] = []
    for item in value:
        items.extend(_flatten(item) if isinstance(item, list) else [item])
    return items
