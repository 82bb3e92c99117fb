"""GraphQL documents: loaded by file stem, parsed once, described by an `Operation`.

Each `.graphql` file under `graphql/` holds one operation. Two optional header pragmas say
what the client must know about it, so the facts live beside the document:

    # shopsync: page_size=50       page size for `$first` (default 250 when `$first` exists)
    # shopsync: idempotent         a mutation that is safe to resend after a lost response
    # shopsync: max_ids=50         the most GIDs one call may pass in `$ids` (default 250)

Queries are always idempotent. Mutations are not, unless marked or carrying `@idempotent`:
the client then refuses to blindly resend them after an ambiguous failure.

Selections several documents share are written once, as named fragments in
`graphql/fragments/*.graphql`. A document spreads them (`...FulfillmentFields`) without
defining them; loading it appends every fragment it spreads, transitively and only those
(GraphQL rejects unused fragments), so what the client sends is one self-contained document.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    Visitor,
    parse,
    visit,
)

GRAPHQL_DIR = Path(__file__).parent / "graphql"
FRAGMENTS_DIR = GRAPHQL_DIR / "fragments"
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


def _spread_names(node: Any) -> list[str]:
    """Names of the fragments spread anywhere under `node`, in document order, once each."""
    names: dict[str, None] = {}

    class _Spreads(Visitor):
        def enter_fragment_spread(self, spread: FragmentSpreadNode, *_: Any) -> None:
            names[spread.name.value] = None

    visit(node, _Spreads())
    return list(names)


@functools.cache
def fragment_definitions(directory: Path = FRAGMENTS_DIR) -> Mapping[str, str]:
    """Every shared fragment by name: the text of its definition, as written in its file."""
    found: dict[str, str] = {}
    for path in sorted(directory.glob("*.graphql")):
        text = path.read_text(encoding="utf-8")
        for definition in parse(text).definitions:
            if not isinstance(definition, FragmentDefinitionNode):
                raise ValueError(f"{path.name}: a fragments file holds only fragment definitions")
            name = definition.name.value
            if name in found:
                raise ValueError(f"{path.name}: fragment {name} is defined twice")
            found[name] = text[definition.loc.start : definition.loc.end]
    return MappingProxyType(found)  # cached: shared by every caller, so read-only


def with_fragments(name: str, text: str, library: Mapping[str, str] | None = None) -> str:
    """`text` followed by every fragment it spreads but does not define, transitively, taken
    from `library` (default: the fragments folder). Fragments nobody spreads stay out."""
    library = fragment_definitions() if library is None else library
    ast = parse(text)
    known = {d.name.value for d in ast.definitions if isinstance(d, FragmentDefinitionNode)}
    pending, appended = _spread_names(ast), []
    while pending:
        fragment = pending.pop(0)
        if fragment in known:
            continue
        if fragment not in library:
            raise ValueError(
                f"GraphQL document {name} spreads fragment {fragment}, which it does not define "
                f"and which no file in {FRAGMENTS_DIR} defines"
            )
        known.add(fragment)
        appended.append(library[fragment])
        pending += _spread_names(parse(library[fragment]))
    return "\n\n".join([text.rstrip("\n"), *appended]) + "\n" if appended else text


def parse_operation(name: str, text: str) -> Operation:
    """Build an `Operation` from a document's text (exposed for tests and tooling). Shared
    fragments it spreads are appended; its own header carries the pragmas."""
    pragmas = _pragmas(text)
    text = with_fragments(name, text)
    ast = parse(text)
    op = _operation_node(ast)
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
    """Every operation the client can send: the stems of the `.graphql` files (the shared
    fragments live one folder down and are not operations)."""
    return sorted(p.stem for p in directory.glob("*.graphql"))


def document_text(name: str) -> str:
    """The complete text of `graphql/<name>.graphql`: the document plus the shared fragments
    it spreads, exactly what the client sends."""
    return load_operation(name).document


@functools.cache
def load_operation(name: str) -> Operation:
    """The operation stored in `graphql/<name>.graphql`, parsed once per process."""
    path = GRAPHQL_DIR / f"{name}.graphql"
    if not path.is_file():
        raise KeyError(f"no GraphQL document {path.name} in {GRAPHQL_DIR}")
    return parse_operation(name, path.read_text(encoding="utf-8"))
