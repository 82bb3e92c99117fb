"""The table of field resolvers and the default one.

Resolver modules register functions with ``@resolves("Type", "field")``; every other field
reads the record attribute of the same name in snake_case (or the dict key), calling it
with the field's arguments when it is a method.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from graphql import GraphQLResolveInfo, GraphQLSchema

Resolver = Callable[..., Any]
RESOLVERS: dict[tuple[str, str], Resolver] = {}


def resolves(type_name: str, *field_names: str) -> Callable[[Resolver], Resolver]:
    def register(fn: Resolver) -> Resolver:
        for name in field_names:
            RESOLVERS[(type_name, name)] = fn
        return fn

    return register


@cache
def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def default_resolver(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    name = info.field_name
    if isinstance(source, dict):
        return source.get(name)
    value = getattr(source, snake(name), None)
    if callable(value):
        return value(**{snake(k): v for k, v in args.items()})
    return value


def format_datetime(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def format_decimal(value: Any) -> str:
    text = format(Decimal(str(value)).normalize(), "f")
    return text if "." in text else text + ".0"


def attach(schema: GraphQLSchema) -> GraphQLSchema:
    """Wire the registered resolvers, scalar serializers and Node type resolution."""
    for (type_name, field_name), fn in RESOLVERS.items():
        gql_type = schema.type_map.get(type_name)
        if gql_type is not None and field_name in gql_type.fields:  # type: ignore[union-attr]
            gql_type.fields[field_name].resolve = fn  # type: ignore[union-attr]
    scalars = {
        "DateTime": format_datetime,
        "Decimal": format_decimal,
        "Money": format_decimal,
        "UnsignedInt64": str,
    }
    for name, fn in scalars.items():
        if name in schema.type_map:
            schema.type_map[name].serialize = fn  # type: ignore[union-attr]
    schema.type_map["Node"].resolve_type = (  # type: ignore[union-attr]
        lambda obj, _info, _type: type(obj).typename
    )
    return schema
