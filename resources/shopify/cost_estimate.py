"""A schema-free estimate of a document's requested cost (FACTS.md §1.2).

The client needs the next call's requested cost before sending it, to pace by the
bucket. Shopify's own figure (`requestedQueryCost`) replaces this estimate as soon as
one response for the operation came back. Connections cost `2 + first × node`, objects
`1 + children`, scalars 0, a mutation field 10 plus its payload; fields are merged
across fragments as the server does, and only different types take the maximum.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)

MAX_PAGE_SIZE = 250
MUTATION_BASE_COST = 10


def estimate_requested_cost(
    ast: DocumentNode,
    variables: dict[str, Any] | None = None,
    *,
    page_size: int | None = None,
    max_ids: int | None = None,
) -> int:
    op = operation_node(ast)
    values = _variable_defaults(op)
    if page_size is not None:
        values["first"] = page_size
    values.update({k: v for k, v in (variables or {}).items() if v is not None})
    if max_ids is not None and "ids" not in values:
        values["ids"] = [None] * max_ids
    fragments = {d.name.value: d for d in ast.definitions if hasattr(d, "type_condition")}
    root = _selection_cost(op.selection_set, values, fragments)
    if op.operation.value == "mutation":  # 10 per mutation field plus its payload's children
        root += (MUTATION_BASE_COST - 1) * len(op.selection_set.selections)
    return max(root, 1)


def operation_node(ast: DocumentNode) -> OperationDefinitionNode:
    ops = [d for d in ast.definitions if isinstance(d, OperationDefinitionNode)]
    if len(ops) != 1:
        raise ValueError(f"a .graphql file must hold exactly one operation, found {len(ops)}")
    return ops[0]


def _variable_defaults(op: OperationDefinitionNode) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for definition in op.variable_definitions or ():
        if isinstance(definition.default_value, IntValueNode):
            defaults[definition.variable.name.value] = int(definition.default_value.value)
    return defaults


def _int_arg(field: FieldNode, name: str, values: dict[str, Any]) -> int | None:
    for arg in field.arguments or ():
        if arg.name.value != name:
            continue
        if isinstance(arg.value, IntValueNode):
            return int(arg.value.value)
        if isinstance(arg.value, VariableNode):
            value = values.get(arg.value.name.value)
            return int(value) if value is not None else None
        if isinstance(arg.value, ListValueNode):
            return len(arg.value.values)
    return None


def _list_len_arg(field: FieldNode, values: dict[str, Any]) -> int | None:
    for arg in field.arguments or ():
        if arg.name.value != "ids":
            continue
        if isinstance(arg.value, ListValueNode):
            return len(arg.value.values)
        if isinstance(arg.value, VariableNode):
            ids = values.get(arg.value.name.value)
            return len(ids) if isinstance(ids, list) else MAX_PAGE_SIZE
    return None


def _collect(sel: SelectionSetNode, fragments: dict, groups: dict, on: str | None) -> dict:
    """The fields of a selection set, spreads flattened, grouped by the type condition they
    sit under (`None`: they apply whatever the runtime type is)."""
    for node in sel.selections:
        if isinstance(node, FieldNode):
            groups.setdefault(on, []).append(node)
            continue
        inner = fragments.get(node.name.value) if isinstance(node, FragmentSpreadNode) else node
        if inner is not None:
            cond = inner.type_condition
            _collect(inner.selection_set, fragments, groups, cond.name.value if cond else on)
    return groups


def _merged(fields: list[FieldNode]) -> list[FieldNode]:
    """Fields under one response key merged into one, as the executor does."""
    by_key: dict[str, list[FieldNode]] = {}
    for field in fields:
        by_key.setdefault((field.alias or field.name).value, []).append(field)
    merged = []
    for same in by_key.values():
        children = tuple(c for f in same if f.selection_set for c in f.selection_set.selections)
        first = same[0]
        merged.append(
            first
            if len(same) == 1
            else FieldNode(
                alias=first.alias,
                name=first.name,
                arguments=first.arguments,
                directives=first.directives,
                selection_set=SelectionSetNode(selections=children) if children else None,
            )
        )
    return merged


def _selection_cost(sel: SelectionSetNode | None, values: dict, fragments: dict) -> int:
    if sel is None:
        return 0
    groups = _collect(sel, fragments, {}, None)
    common = groups.pop(None, [])
    return max(  # an interface costs its most expensive branch
        sum(_field_cost(f, values, fragments) for f in _merged(common + branch))
        for branch in [[], *groups.values()]
    )


def _field_cost(field: FieldNode, values: dict, fragments: dict) -> int:
    if field.selection_set is None or field.name.value in ("pageInfo", "__typename"):
        return 0
    size = _int_arg(field, "first", values) or _int_arg(field, "last", values)
    groups = _collect(field.selection_set, fragments, {}, None)
    children = _merged([f for group in groups.values() for f in group])
    if size is not None and any(c.name.value in ("nodes", "edges") for c in children):
        node_cost = 0  # a connection: 2 + size × node
        for child in children:
            child_cost = _selection_cost(child.selection_set, values, fragments)
            if child.name.value == "nodes":
                node_cost = max(node_cost, 1 + child_cost)
            elif child.name.value == "edges":
                node_cost = max(node_cost, child_cost)
        return 2 + size * node_cost
    count = size or _list_len_arg(field, values) or 1  # a plain list sized by first/ids
    return count * (1 + _selection_cost(field.selection_set, values, fragments))
