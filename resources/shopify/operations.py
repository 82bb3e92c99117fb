"""GraphQL documents: loaded by file stem, parsed once, described by an `Operation`.

Each `.graphql` file under `graphql/` holds one operation. Two optional header pragmas say
what the client must know about it, so the facts live beside the document:

    # shopsync: page_size=50       page size for `$first` (default 250 when `$first` exists)
    # shopsync: idempotent         a mutation that is safe to resend after a lost response
    # shopsync: max_ids=50         the most GIDs one call may pass in `$ids` (default 250)

Queries are always idempotent. Mutations are not, unless marked or carrying `@idempotent`:
the client then refuses to blindly resend them after an ambiguous failure.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    parse,
)

GRAPHQL_DIR = Path(__file__).parent / "graphql"
MAX_PAGE_SIZE = 250
MUTATION_BASE_COST = 10
_PRAGMA_RE = re.compile(r"^#\s*shopsync:\s*(.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Operation:
    """One GraphQL document and what the client needs to know to send it safely."""

    name: str
    document: str
    ast: DocumentNode
    kind: str  # "query" | "mutation"
    operation_name: str | None
    page_size: int | None
    max_ids: int | None
    idempotent: bool
    variables: frozenset[str]

    @property
    def is_mutation(self) -> bool:
        return self.kind == "mutation"

    def estimate_cost(self, variables: dict[str, Any] | None = None) -> int:
        """Schema-free worst-case requested cost (FACTS.md §1.2), used until Shopify tells us.

        Connections cost `2 + first × node`, objects `1 + children`, scalars 0, a mutation
        field 10 plus its payload. Exact figures come from responses (`requestedQueryCost`).
        """
        op = _operation_node(self.ast)
        values = _variable_defaults(op)
        if self.page_size is not None:
            values["first"] = self.page_size
        values.update({k: v for k, v in (variables or {}).items() if v is not None})
        if self.max_ids is not None and "ids" not in values:
            values["ids"] = [None] * self.max_ids
        fragments = {d.name.value: d for d in self.ast.definitions if hasattr(d, "type_condition")}
        root = _selection_cost(op.selection_set, values, fragments)
        if self.is_mutation:  # 10 per mutation field plus its payload's children
            root += (MUTATION_BASE_COST - 1) * len(op.selection_set.selections)
        return max(root, 1)


def _operation_node(ast: DocumentNode) -> OperationDefinitionNode:
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


def _selection_cost(sel: SelectionSetNode | None, values: dict, fragments: dict) -> int:
    if sel is None:
        return 0
    plain, alternatives = 0, [0]
    for node in sel.selections:
        if isinstance(node, FieldNode):
            plain += _field_cost(node, values, fragments)
        elif isinstance(node, InlineFragmentNode):
            alternatives.append(_selection_cost(node.selection_set, values, fragments))
        elif isinstance(node, FragmentSpreadNode):
            frag = fragments.get(node.name.value)
            alternatives.append(
                _selection_cost(frag.selection_set, values, fragments) if frag else 0
            )
    return plain + max(alternatives)  # an interface costs its most expensive branch


def _field_cost(field: FieldNode, values: dict, fragments: dict) -> int:
    if field.selection_set is None or field.name.value in ("pageInfo", "__typename"):
        return 0
    size = _int_arg(field, "first", values) or _int_arg(field, "last", values)
    children = [c for c in field.selection_set.selections if isinstance(c, FieldNode)]
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


def _pragmas(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in _PRAGMA_RE.findall(text):
        for item in line.split():
            key, _, value = item.partition("=")
            found[key.strip()] = value.strip() or "true"
    return found


def _uses_idempotent_directive(op: OperationDefinitionNode) -> bool:
    return any(
        d.name.value == "idempotent"
        for field in op.selection_set.selections
        if isinstance(field, FieldNode)
        for d in field.directives or ()
    )


def parse_operation(name: str, text: str) -> Operation:
    """Build an `Operation` from a document's text (exposed for tests and tooling)."""
    ast = parse(text)
    op = _operation_node(ast)
    pragmas = _pragmas(text)
    declared = frozenset(v.variable.name.value for v in op.variable_definitions or ())
    page_size = None
    if "first" in declared:
        page_size = int(pragmas.get("page_size", MAX_PAGE_SIZE))
        if not 0 < page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"{name}: page_size must be 1..{MAX_PAGE_SIZE}, got {page_size}")
    max_ids = int(pragmas.get("max_ids", MAX_PAGE_SIZE)) if "ids" in declared else None
    kind = op.operation.value
    idempotent = kind == "query" or "idempotent" in pragmas or _uses_idempotent_directive(op)
    return Operation(
        name=name,
        document=text,
        ast=ast,
        kind=kind,
        operation_name=op.name.value if op.name else None,
        page_size=page_size,
        max_ids=max_ids,
        idempotent=idempotent,
        variables=declared,
    )


def operation_names(directory: Path = GRAPHQL_DIR) -> list[str]:
    """Every operation the client can send: the stems of the `.graphql` files."""
    return sorted(p.stem for p in directory.glob("*.graphql"))


@functools.cache
def load_operation(name: str) -> Operation:
    """The operation stored in `graphql/<name>.graphql`, parsed once per process."""
    path = GRAPHQL_DIR / f"{name}.graphql"
    if not path.is_file():
        raise KeyError(f"no GraphQL document {path.name} in {GRAPHQL_DIR}")
    return parse_operation(name, path.read_text(encoding="utf-8"))
