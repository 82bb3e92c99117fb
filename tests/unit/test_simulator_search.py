"""Shopify search syntax (FACTS.md §2.3–2.4) as the simulator serves ``query:``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from simulator.search import parse_search, search_extension

FIELDS = {
    "name": "text",
    "tag": "list",
    "sku": "list",
    "financial_status": "keyword",
    "status": "list",
    "created_at": "datetime",
    "updated_at": "datetime",
    "total": "number",
    "id": "id",
    "email": "keyword",
}
NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
ORDERS = [
    {
        "id": "gid://shopify/Order/1001",
        "name": "#1001",
        "tag": ["synced", "Wholesale"],
        "sku": ["SEED-1", "POT-9"],
        "financial_status": "paid",
        "status": ["open", "not_closed"],
        "created_at": "2025-06-14T23:30:00Z",
        "updated_at": datetime(2025, 6, 15, 11, 0, tzinfo=UTC),
        "total": 12.5,
        "email": "Ann@Example.com",
    },
    {
        "id": 1002,
        "name": "#1002 rush",
        "tag": [],
        "sku": ["SEED-2"],
        "financial_status": "pending",
        "status": ["cancelled", "not_closed"],
        "created_at": "2025-01-01T00:00:00Z",
        "updated_at": "2025-01-02T00:00:00+00:00",
        "total": 100,
        "email": None,
    },
]


def names(query: str, **kwargs) -> list[str]:
    found = parse_search(query, FIELDS, now=NOW, synonyms={"tag_not": "-tag"}, **kwargs)
    return [o["name"] for o in found.filter(ORDERS)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["#1001", "#1002 rush"]),
        ("tag:synced", ["#1001"]),
        ("tag:SYNCED", ["#1001"]),  # case-insensitive
        ("-tag:synced", ["#1002 rush"]),
        ("NOT tag:synced", ["#1002 rush"]),
        ("tag_not:synced", ["#1002 rush"]),  # declared synonym
        ("financial_status:paid tag:wholesale", ["#1001"]),  # whitespace = AND
        ("financial_status:paid AND tag:nope", []),
        ("sku:SEED-1 OR sku:SEED-2", ["#1001", "#1002 rush"]),
        ("sku:SEED-1,SEED-2", ["#1001", "#1002 rush"]),  # comma = either value
        ("sku:SEED*", ["#1001", "#1002 rush"]),  # trailing * = prefix
        ("sku:POT*", ["#1001"]),
        ("financial_status:paid OR (status:cancelled -tag:x)", ["#1001", "#1002 rush"]),
        ("-(financial_status:paid OR status:cancelled)", []),
        ("NOT (tag:synced)", ["#1002 rush"]),
        ("tag:*", ["#1001"]),  # exists
        ("-email:*", ["#1002 rush"]),
        ("email:ann@example.com", ["#1001"]),
        ("total:>50", ["#1002 rush"]),
        ("total:<=12.5", ["#1001"]),
        ("total:>=12.5 total:<100", ["#1001"]),
        ("id:1001", ["#1001"]),
        ("id:'gid://shopify/Order/1002'", ["#1002 rush"]),
        ("id:>=1002", ["#1002 rush"]),
        ("name:1001", ["#1001"]),  # words: "#1001" has the word 1001
        ("name:'#1002'", ["#1002 rush"]),
        ('name:"#1002 rush"', ["#1002 rush"]),
        ("name:rus*", ["#1002 rush"]),
        ("rush", ["#1002 rush"]),  # free text searches the default field
        ("'1002 RUSH'", ["#1002 rush"]),
        ("-rush", ["#1001"]),
        ("status:open", ["#1001"]),
        ("status:cancelled", ["#1002 rush"]),
    ],
)
def test_filters(query: str, expected: list[str]):
    assert names(query) == expected


def test_precedence_is_not_and_or():
    # (paid AND tag:nope) OR cancelled
    assert names("financial_status:paid tag:nope OR status:cancelled") == ["#1002 rush"]
    assert names("financial_status:paid (tag:nope OR status:cancelled)") == []


def test_lenient_parsing_never_raises():
    for query in ["(tag:synced", "tag:synced)", "OR tag:synced", "tag:synced AND", "tag:'open",
                  "((", "-", ":", "AND OR NOT", "tag:", '"', "a:b:c:d"]:  # fmt: skip
        parse_search(query, FIELDS, now=NOW).filter(ORDERS)
    assert names("(tag:synced") == ["#1001"]
    assert names("tag:synced)") == ["#1001"]


def test_unknown_field_is_dropped_and_warned():
    found = parse_search("tag:synced order_number:1001", FIELDS, now=NOW)
    assert [o["name"] for o in found.filter(ORDERS)] == ["#1001"]  # order_number ignored
    assert found.warnings == [
        {
            "field": "order_number",
            "message": "Invalid search field for this query.",
            "code": "invalid_field",
        }
    ]


def test_negated_unknown_field_constrains_nothing():
    assert names("-bogus:1") == ["#1001", "#1002 rush"]
    assert names("tag:synced OR bogus:1") == ["#1001"]


def test_clean_query_has_no_warnings():
    assert parse_search("tag:a OR (sku:b -status:c)", FIELDS, now=NOW).warnings == []


def test_search_extension_shape():
    found = parse_search("bogus:1", FIELDS, now=NOW)
    assert search_extension(["orders"], "bogus:1", found) == {
        "path": ["orders"],
        "query": "bogus:1",
        "parsed": {"field": "bogus", "match_all": "1"},
        "warnings": found.warnings,
    }


def test_unquoted_datetime_is_cut_at_the_colon_like_shopify():
    """Shopify reported for ``updated_at:>=2026-01-01T00:00:00Z``: parsed
    ``and: [{field: updated_at, range_gte: 2026-01-01T00:00:00+01:00}, {field: "00",
    match_all: "00Z"}]`` with an invalid_field warning for ``00`` (shop in UTC+1)."""
    cet = timezone(timedelta(hours=1))
    found = parse_search("updated_at:>=2026-01-01T00:00:00Z", FIELDS, tz=cet, now=NOW)
    assert found.parsed == {
        "and": [
            {"field": "updated_at", "range_gte": "2026-01-01T00:00:00+01:00"},
            {"field": "00", "match_all": "00Z"},
        ]
    }
    assert [w["field"] for w in found.warnings] == ["00"]


def test_unquoted_datetime_loses_its_time_of_day():
    # 11:00 is after 10:00, but unquoted the bound becomes the start of the 15th: both match
    assert names("created_at:>=2025-06-14T10:00:00Z") == ["#1001"]
    assert names("updated_at:<2025-06-15T23:00:00Z") == ["#1002 rush"]
    assert names("updated_at:<'2025-06-15T23:00:00Z'") == ["#1001", "#1002 rush"]


def test_quoted_datetimes_keep_time_and_zone():
    assert names("updated_at:>='2025-06-15T11:00:00Z'") == ["#1001"]
    assert names("updated_at:>'2025-06-15T11:00:00Z'") == []
    assert names("updated_at:<='2025-06-15T11:00:00Z' updated_at:>'2025-02-01'") == ["#1001"]
    assert names("updated_at:'2025-06-15T13:00:00+02:00'") == ["#1001"]


def test_quoted_datetime_without_zone_is_in_the_shop_zone():
    plus2 = timezone(timedelta(hours=2))
    assert names("updated_at:>='2025-06-15T12:30:00'", tz=plus2) == ["#1001"]  # 10:30Z
    assert names("updated_at:>='2025-06-15T12:30:00'") == []  # 12:30Z


def test_calendar_values_are_periods():
    assert names("created_at:2025-06-14") == ["#1001"]
    assert names("created_at:'2025-06-14'") == ["#1001"]
    assert names("created_at:<=2025") == ["#1001", "#1002 rush"]  # all of 2025
    assert names("created_at:>2025-01") == ["#1001"]  # after January
    assert names("created_at:<2025-06") == ["#1002 rush"]
    assert names("created_at:>=2025-01-01 created_at:<2025-01-02") == ["#1002 rush"]


def test_calendar_values_follow_the_shop_zone():
    # 2025-06-14T23:30Z is the 15th in UTC+2
    plus2 = timezone(timedelta(hours=2))
    assert names("created_at:2025-06-15", tz=plus2) == ["#1001"]
    assert names("created_at:2025-06-15") == []


def test_relative_dates():
    assert names("updated_at:<now") == ["#1001", "#1002 rush"]
    assert names("updated_at:>=-2h") == ["#1001"]
    assert names("created_at:>=-1d") == ["#1001"]
    assert names("created_at:>=-30w") == ["#1001", "#1002 rush"]
    assert names("created_at:today") == []
    assert names("created_at:yesterday") == ["#1001"]


def test_invalid_date_is_dropped_with_a_warning():
    found = parse_search("created_at:>soon tag:synced", FIELDS, now=NOW)
    assert [o["name"] for o in found.filter(ORDERS)] == ["#1001"]
    assert found.warnings == [
        {
            "field": "created_at",
            "message": "Input `soon` is not an accepted value.",
            "code": "invalid_value",
        }
    ]


def test_parsed_shows_the_resolved_date_bounds():
    found = parse_search("created_at:2025-06-14 updated_at:<='2025-01-01T00:00:00Z'", FIELDS,
                         now=NOW)  # fmt: skip
    assert found.parsed == {
        "and": [
            {
                "field": "created_at",
                "range_gte": "2025-06-14T00:00:00+00:00",
                "range_lt": "2025-06-15T00:00:00+00:00",
            },
            {"field": "updated_at", "range_lte": "2025-01-01T00:00:00+00:00"},
        ]
    }


def test_default_fields_are_configurable():
    found = parse_search("paid", FIELDS, default_fields=("financial_status",), now=NOW)
    assert [o["name"] for o in found.filter(ORDERS)] == ["#1001"]


def test_quoted_values_keep_spaces_and_escapes():
    record = {"name": 'The "Big" One', "tag": ["a b"]}
    assert parse_search("tag:'a b'", FIELDS).matches(record)
    assert not parse_search("tag:a", FIELDS).matches(record)
    assert parse_search('name:"the \\"big\\" one"', FIELDS).matches(record)


def test_allowed_fields_must_declare_kinds():
    with pytest.raises(TypeError, match="kind"):
        parse_search("tag:a", {"tag", "sku"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown search field kinds"):
        parse_search("tag:a", {"tag": "tags"})
