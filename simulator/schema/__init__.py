"""The simulator's SDL (a generated subset of Shopify 2025-01) and the version patch.

The patch holds what Shopify added after 2025-01, in sections marked ``# @since VERSION``.
SDL can add types, fields and enum values, but not an argument to an existing field, so
the patch names those in marker lines ``# @argument Type.field(name: Type = default)``
that :func:`add_later_arguments` applies to a built schema (the simulator's and the
tests' copy of the real one alike).
"""

from __future__ import annotations

import re

from graphql import GraphQLArgument, GraphQLSchema, parse, type_from_ast, value_from_ast

_ARGUMENT = re.compile(r"^# @argument (\w+)\.(\w+)\((.+)\)\s*$", re.M)


def later_arguments(patch_sdl: str) -> list[tuple[str, str, str]]:
    """(type, field, argument definition) of every ``# @argument`` line of ``patch_sdl``."""
    return [(m[1], m[2], m[3]) for m in _ARGUMENT.finditer(patch_sdl)]


def add_later_arguments(schema: GraphQLSchema, patch_sdl: str) -> GraphQLSchema:
    """Add the patch's ``# @argument`` arguments to ``schema`` in place; returns it."""
    for type_name, field_name, definition in later_arguments(patch_sdl):
        node = parse(f"type T {{ f({definition}): Int }}").definitions[0].fields[0].arguments[0]
        arg_type = type_from_ast(schema, node.type)
        default = value_from_ast(node.default_value, arg_type) if node.default_value else None
        field = schema.type_map[type_name].fields[field_name]  # type: ignore[union-attr]
        field.args[node.name.value] = GraphQLArgument(arg_type, default_value=default)
    return schema
