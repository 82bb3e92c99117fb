"""SQL of the exception queue: the records that need a person, their resolutions and
escalations, and the re-opening of refused orders and terminal shipments for a retry.

Reads every ledger the flows write (`retailer_orders`, `order_flags`, `order_links`,
`fulfillment_links`, `inventory_mismatches`); the rules of what counts and what the fix
is are `sync.exceptions`. An escalation is claimed in `shopsync.email_alerted` as
`escalated:<item key>` in the transaction that queues its email, like every
"alert once" of the outbox.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

import psycopg

from resources.ledgers.locks import store_lock
from resources.ledgers.states import FulfillmentLinkState, OrderLinkState
from sync.exceptions import (
    HELD_REASONS,
    MISMATCH_KINDS,
    QUARANTINE_NEEDS_NO_ONE,
    TERMINAL_NEEDS_NO_ONE,
    ExceptionItem,
    ExceptionKind,
    ExceptionRow,
    build_items,
    counts,
    item_key,
    needs_a_person,
)

ESCALATED = "escalated:"

_ROWS_SQL = """
SELECT 'quarantined', o.retailer, o.order_gid, o.name, coalesce(o.reason, 'unknown'),
       coalesce(o.message, ''), o.first_seen_at, o.updated_at, o.order_gid, NULL
  FROM shopsync.retailer_orders o
 WHERE o.status = 'quarantined' AND NOT (coalesce(o.reason, '') = ANY(%(no_one)s))
UNION ALL
SELECT 'held', o.retailer, o.order_gid, o.name, o.reason, coalesce(o.message, ''),
       o.first_seen_at, o.updated_at, o.order_gid, NULL
  FROM shopsync.retailer_orders o
 WHERE o.status = 'waiting' AND o.reason = ANY(%(held)s)
UNION ALL
SELECT f.kind, f.retailer, f.retailer_order_gid, o.name, f.kind, f.detail, f.flagged_at,
       o.updated_at, f.retailer_order_gid, l.hub_order_name
  FROM shopsync.order_flags f
  LEFT JOIN shopsync.retailer_orders o
    ON o.retailer = f.retailer AND o.order_gid = f.retailer_order_gid
  LEFT JOIN shopsync.order_links l
    ON l.retailer = f.retailer AND l.retailer_order_gid = f.retailer_order_gid
 WHERE f.resolved_at IS NULL
UNION ALL
SELECT CASE u.state WHEN 'failed' THEN 'follow_up_failed' ELSE 'held_for_review' END,
       u.retailer, u.retailer_order_gid, u.retailer_order_name, u.change_key, u.detail,
       u.created_at, o.updated_at, u.retailer_order_gid, l.hub_order_name
  FROM shopsync.order_follow_ups u
  LEFT JOIN shopsync.retailer_orders o
    ON o.retailer = u.retailer AND o.order_gid = u.retailer_order_gid
  LEFT JOIN shopsync.order_links l
    ON l.retailer = u.retailer AND l.retailer_order_gid = u.retailer_order_gid
 WHERE u.state IN ('held_for_review', 'failed')
UNION ALL
SELECT 'refunded_after_import', o.retailer, o.order_gid, o.name, 'refunded',
       'refunded ' || (r -> 'totalRefundedSet' -> 'shopMoney' ->> 'amount') || ' '
       || (r -> 'totalRefundedSet' -> 'shopMoney' ->> 'currencyCode') || ' at the retailer',
       (r ->> 'createdAt')::timestamptz, o.updated_at, o.order_gid, l.hub_order_name
  FROM shopsync.retailer_orders o
  JOIN shopsync.order_links l ON l.retailer = o.retailer AND l.retailer_order_gid = o.order_gid
  CROSS JOIN LATERAL jsonb_array_elements(coalesce(o.raw -> 'refunds', '[]'::jsonb)) r
 WHERE jsonb_array_length(coalesce(o.raw -> 'refunds', '[]'::jsonb)) > 0
   AND l.state IN ('created', 'confirmed')
   -- store times are whole seconds: a refund in the second the hub order was made counts
   AND (r ->> 'createdAt')::timestamptz
       >= date_trunc('second', coalesce(l.created_at, l.claimed_at))
UNION ALL
SELECT 'refused', l.retailer, l.retailer_order_gid, o.name, 'hub_refused',
       coalesce(l.last_error, ''), l.claimed_at, coalesce(o.updated_at, l.claimed_at),
       l.retailer_order_gid, NULL
  FROM shopsync.order_links l
  LEFT JOIN shopsync.retailer_orders o
    ON o.retailer = l.retailer AND o.order_gid = l.retailer_order_gid
 WHERE l.state = 'failed'
UNION ALL
SELECT 'terminal_shipment', s.retailer, s.hub_fulfillment_gid, o.name,
       coalesce(s.terminal_reason, 'unknown'), coalesce(s.message, ''), s.claimed_at,
       coalesce(h.updated_at, s.claimed_at), s.retailer_order_gid, l.hub_order_name
  FROM shopsync.fulfillment_links s
  LEFT JOIN shopsync.hub_fulfillments h USING (hub_fulfillment_gid)
  LEFT JOIN shopsync.retailer_orders o
    ON o.retailer = s.retailer AND o.order_gid = s.retailer_order_gid
  LEFT JOIN shopsync.order_links l
    ON l.retailer = s.retailer AND l.retailer_order_gid = s.retailer_order_gid
 WHERE s.state = 'terminal' AND NOT (coalesce(s.terminal_reason, '') = ANY(%(settled)s))
UNION ALL
SELECT 'inventory_mismatch', m.retailer, m.sku, NULL, m.kind, m.detail, m.first_seen,
       NULL, NULL, NULL
  FROM shopsync.inventory_mismatches m
 WHERE m.kind = ANY(%(mismatch)s)
"""


def exception_rows(conn: psycopg.Connection) -> list[ExceptionRow]:
    """Every record that may need a person (settled outcomes are filtered here already,
    so a store with thousands of SKUs only at the hub reads none of them)."""
    params = {
        "no_one": sorted(QUARANTINE_NEEDS_NO_ONE),
        "held": sorted(HELD_REASONS),
        "settled": sorted(TERMINAL_NEEDS_NO_ONE),
        "mismatch": sorted(MISMATCH_KINDS),
    }
    return [ExceptionRow(*row) for row in conn.execute(_ROWS_SQL, params).fetchall()]


def _among(conn: psycopg.Connection, sql: str, keys: Sequence[str]) -> set[str]:
    return {r[0] for r in conn.execute(sql, (list(keys),)).fetchall()} if keys else set()


def resolved_among(conn: psycopg.Connection, keys: Sequence[str]) -> set[str]:
    return _among(
        conn,
        "SELECT item_key FROM shopsync.exception_resolutions WHERE item_key = ANY(%s)",
        keys,
    )


def escalated_among(conn: psycopg.Connection, keys: Sequence[str]) -> set[str]:
    prefixed = [ESCALATED + k for k in keys]
    found = _among(
        conn, "SELECT alert_key FROM shopsync.email_alerted WHERE alert_key = ANY(%s)", prefixed
    )
    return {k.removeprefix(ESCALATED) for k in found}


def open_exceptions(
    conn: psycopg.Connection, now: datetime | None = None, partitions_start: date | None = None
) -> list[ExceptionItem]:
    """The queue as it stands: every item that needs a person and is not resolved,
    oldest first, each marked escalated or not."""
    rows = exception_rows(conn)
    keys = [item_key(r) for r in rows if needs_a_person(r)]
    return build_items(
        rows,
        now or datetime.now(UTC),
        partitions_start,
        escalated=escalated_among(conn, keys),
        resolved=resolved_among(conn, keys),
    )


def exception_counts(
    conn: psycopg.Connection, now: datetime | None = None, retailers: Iterable[str] = ()
) -> dict[str, object]:
    """The queue's figures for summaries: `total`, `by_kind` (every kind), `by_retailer`
    (every retailer given, 0 included), `oldest_wait_hours`, `escalated`."""
    return counts(open_exceptions(conn, now), retailers)


def record_resolutions(
    conn: psycopg.Connection, items: Sequence[ExceptionItem], run_id: str | None, note: str
) -> list[str]:
    """Mark items handled outside shopsync; a post-import flag is also marked resolved
    in `order_flags`. Returns the keys newly resolved."""
    if not items:
        return []
    with conn.transaction():
        done = [
            r[0]
            for r in conn.execute(
                "INSERT INTO shopsync.exception_resolutions"
                " (item_key, kind, retailer, run_id, note)"
                " SELECT *, %s::text, %s::text FROM unnest(%s::text[], %s::text[], %s::text[])"
                " ON CONFLICT (item_key) DO NOTHING RETURNING item_key",
                (
                    run_id,
                    note,
                    [i.key for i in items],
                    [i.kind for i in items],
                    [i.retailer for i in items],
                ),
            ).fetchall()
        ]
        flags = [
            i
            for i in items
            if i.kind in (ExceptionKind.CANCELLED_AFTER_IMPORT, ExceptionKind.EDITED_AFTER_IMPORT)
        ]
        for flag in flags:
            conn.execute(
                "UPDATE shopsync.order_flags SET resolved_at = now() WHERE retailer = %s"
                " AND retailer_order_gid = %s AND kind = %s AND resolved_at IS NULL",
                (flag.retailer, flag.subject, flag.kind),
            )
    return done


def reopen_refused_orders(conn: psycopg.Connection, retailer: str, order_gids: list[str]) -> int:
    """Refused hub orders back to `claimed`, so the next import of the retailer tries them
    again. Safe: a claimed link is reconciled against the hub's newest orders (from its
    first claim on) before anything is created, and a refusal created nothing."""
    if not order_gids:
        return 0
    with store_lock(conn, f"import:{retailer}"), conn.transaction():
        return conn.execute(
            "UPDATE shopsync.order_links SET state = %s WHERE retailer = %s"
            " AND retailer_order_gid = ANY(%s) AND state = %s",
            (OrderLinkState.CLAIMED, retailer, order_gids, OrderLinkState.FAILED),
        ).rowcount


def reopen_terminal_shipments(
    conn: psycopg.Connection, retailer: str, hub_fulfillment_gids: list[str]
) -> int:
    """Terminal shipments back to `claimed`: the next push re-reads the retailer order and
    re-plans (finding the fulfillment if it exists, terminal again if nothing changed)."""
    if not hub_fulfillment_gids:
        return 0
    with store_lock(conn, f"push:{retailer}"), conn.transaction():
        return conn.execute(
            "UPDATE shopsync.fulfillment_links SET state = %s WHERE retailer = %s"
            " AND hub_fulfillment_gid = ANY(%s) AND state = %s",
            (
                FulfillmentLinkState.CLAIMED,
                retailer,
                hub_fulfillment_gids,
                FulfillmentLinkState.TERMINAL,
            ),
        ).rowcount


def claim_escalations(conn: psycopg.Connection, keys: Sequence[str]) -> set[str]:
    """Claim `escalated:<key>` for each key; the keys claimed now (never before)."""
    rows = conn.execute(
        "INSERT INTO shopsync.email_alerted (alert_key) SELECT unnest(%s::text[])"
        " ON CONFLICT (alert_key) DO NOTHING RETURNING alert_key",
        ([ESCALATED + k for k in keys],),
    ).fetchall()
    return {r[0].removeprefix(ESCALATED) for r in rows}


def link_escalations(conn: psycopg.Connection, keys: Iterable[str], dedupe_key: str) -> None:
    """Point the claims at the outbox row that carried them."""
    conn.execute(
        "UPDATE shopsync.email_alerted SET outbox_id ="
        " (SELECT id FROM shopsync.email_outbox WHERE dedupe_key = %s) WHERE alert_key = ANY(%s)",
        (dedupe_key, [ESCALATED + k for k in keys]),
    )
