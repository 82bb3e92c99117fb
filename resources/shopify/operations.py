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
    OperationDefinitionNode,
    Visitor,
    parse,
    visit,
)

from resources.shopify.cost_estimate import (
    MAX_PAGE_SIZE,
    estimate_requested_cost,
    operation_node,
)

GRAPHQL_DIR = Path(__file__).parent / "graphql"
FRAGMENTS_DIR = GRAPHQL_DIR / "fragments"
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
        """Schema-free worst-case requested cost, used until Shopify tells us (see
        `resources.shopify.cost_estimate`)."""
        return estimate_requested_cost(
            self.ast, variables, page_size=self.page_size, max_ids=self.max_ids
        )


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
    op = operation_node(ast)
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
