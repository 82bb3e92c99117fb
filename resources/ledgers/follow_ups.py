"""The follow-up ledger (`shopsync.order_follow_ups`): how far each hold, cancel or edit of
a changed imported order got, written before every Shopify write (FAULTS O12–O14).

The hub is the truth of what was done (the flow re-reads it before each step); this
ledger is the truth of what was *asked*: the step in flight, a write whose response was
lost (`ambiguous_at`, so it is not resent blind), the cancel job to poll, and whether the
operators were told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

DONE_STATES = frozenset({
    "cancelled", "edited", "held_for_review", "failed", "cancelled_at_retailer",
    "edited_at_retailer",
})  # fmt: skip
#: The change key (and action) of a hub cancel carried back to the retailer order (O15):
#: the retailer order then changed because of us, so it is no retailer change to follow.
HUB_CANCEL = "hub_cancel"

_COLUMNS = (
    "retailer, retailer_order_gid, change_key, action, state, hub_order_gid, "
    "retailer_order_name, detail, target, job_id, ambiguous_at, attempts, last_error, run_id, "
    "created_at, updated_at, done_at"
)


@dataclass(frozen=True)
class FollowUpRow:
    retailer: str
    retailer_order_gid: str
    change_key: str
    action: str
    state: str
    hub_order_gid: str
    retailer_order_name: str
    detail: str
    target: dict[str, int] | None
    job_id: str | None
    ambiguous_at: datetime | None
    attempts: int
    last_error: str | None
    run_id: str | None
    created_at: datetime
    updated_at: datetime
    done_at: datetime | None

    @property
    def done(self) -> bool:
        return self.state in DONE_STATES


@dataclass(frozen=True)
class Candidate:
    """An imported order to look at: landed by this run, or with a follow-up unfinished."""

    order_gid: str
    raw: dict[str, Any]  # the retailer order as last read
    snapshot: dict[str, Any]  # as it was imported
    hub_order_gid: str
    open_keys: tuple[str, ...]  # follow-ups not finished
    done_keys: tuple[str, ...]  # follow-ups finished


_SAME = "f.retailer = o.retailer AND f.retailer_order_gid = o.order_gid"
_OPEN = f"{_SAME} AND f.done_at IS NULL AND f.action <> 'hub_cancel'"
_DONE = f"{_SAME} AND f.done_at IS NOT NULL AND f.action <> 'hub_cancel'"
#: Orders this run landed (index retailer_orders_last_run) and orders with a follow-up
#: still open: never a scan of the retailer's whole history. An order whose hub cancel we
#: carried back to it is left out: what changed there was our doing.
_CANDIDATES_SQL = f"""
SELECT o.order_gid, o.raw, l.source_snapshot, l.hub_order_gid,
       coalesce((SELECT array_agg(f.change_key) FROM shopsync.order_follow_ups f
                 WHERE {_OPEN}), '{{}}'),
       coalesce((SELECT array_agg(f.change_key) FROM shopsync.order_follow_ups f
                 WHERE {_DONE}), '{{}}')
FROM (SELECT order_gid FROM shopsync.retailer_orders
      WHERE retailer = %(retailer)s AND last_run_id = %(run_id)s
      UNION
      SELECT retailer_order_gid FROM shopsync.order_follow_ups
      WHERE retailer = %(retailer)s AND done_at IS NULL AND action <> 'hub_cancel') wanted
JOIN shopsync.retailer_orders o ON o.retailer = %(retailer)s AND o.order_gid = wanted.order_gid
JOIN shopsync.order_links l ON l.retailer = o.retailer AND l.retailer_order_gid = o.order_gid
WHERE l.state IN ('created', 'confirmed')
  AND l.hub_order_gid IS NOT NULL AND l.source_snapshot IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM shopsync.order_follow_ups f WHERE {_SAME}
                  AND f.action = 'hub_cancel')
ORDER BY o.order_gid
"""


def candidates(conn: psycopg.Connection, retailer: str, run_id: str | None) -> list[Candidate]:
    rows = conn.execute(_CANDIDATES_SQL, {"retailer": retailer, "run_id": run_id}).fetchall()
    return [Candidate(gid, raw, snap, hub, tuple(open_), tuple(done))
            for gid, raw, snap, hub, open_, done in rows]  # fmt: skip


def claim(
    conn: psycopg.Connection,
    *,
    retailer: str,
    order_gid: str,
    change_key: str,
    action: str,
    state: str,
    hub_order_gid: str,
    order_name: str,
    detail: str,
    target: dict[str, int] | None,
    run_id: str,
) -> FollowUpRow:
    """The follow-up of this change, created in `state` if it is new (the claim before the
    first write), else as it stands."""
    conn.execute(
        "INSERT INTO shopsync.order_follow_ups (retailer, retailer_order_gid, change_key, action,"
        " state, hub_order_gid, retailer_order_name, detail, target, run_id)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (retailer, order_gid, change_key, action, state, hub_order_gid, order_name, detail,
         Jsonb(target) if target is not None else None, run_id),
    )  # fmt: skip
    found = get(conn, retailer, order_gid, change_key)
    assert found is not None  # inserted or already there
    return found


def get(
    conn: psycopg.Connection, retailer: str, order_gid: str, change_key: str
) -> FollowUpRow | None:
    with conn.cursor(row_factory=class_row(FollowUpRow)) as cur:
        return cur.execute(
            f"SELECT {_COLUMNS} FROM shopsync.order_follow_ups"
            " WHERE retailer = %s AND retailer_order_gid = %s AND change_key = %s",
            (retailer, order_gid, change_key),
        ).fetchone()


def open_follow_ups(
    conn: psycopg.Connection, retailer: str, action: str | None = None
) -> list[FollowUpRow]:
    """Follow-ups of the retailer not finished yet (a crash, a cancel job still running),
    of one `action` when given."""
    with conn.cursor(row_factory=class_row(FollowUpRow)) as cur:
        return cur.execute(
            f"SELECT {_COLUMNS} FROM shopsync.order_follow_ups"
            " WHERE retailer = %s AND done_at IS NULL AND (%s::text IS NULL OR action = %s)"
            " ORDER BY created_at",
            (retailer, action, action),
        ).fetchall()


def advance(conn: psycopg.Connection, row: FollowUpRow, state: str, **fields: Any) -> FollowUpRow:
    """Move to `state` (done states stamp `done_at`), with `job_id`, `last_error`,
    `ambiguous_at`, `detail`, `run_id` as given; a new attempt when `attempt` is set."""
    allowed = {"job_id", "last_error", "ambiguous_at", "detail", "run_id"}
    unknown = set(fields) - allowed - {"attempt"}
    if unknown:
        raise ValueError(f"unknown follow-up fields: {sorted(unknown)}")
    sets = ["state = %s", "updated_at = now()"]
    values: list[Any] = [state]
    for name in sorted(set(fields) & allowed):
        sets.append(f"{name} = %s")
        values.append(fields[name])
    if fields.get("attempt"):
        sets.append("attempts = attempts + 1")
    if state in DONE_STATES:
        sets.append("done_at = coalesce(done_at, now())")
    conn.execute(
        f"UPDATE shopsync.order_follow_ups SET {', '.join(sets)}"  # noqa: S608 - fixed names
        " WHERE retailer = %s AND retailer_order_gid = %s AND change_key = %s",
        (*values, row.retailer, row.retailer_order_gid, row.change_key),
    )
    updated = get(conn, row.retailer, row.retailer_order_gid, row.change_key)
    assert updated is not None
    return updated


def follow_up_counts(conn: psycopg.Connection) -> dict[str, int]:
    """state -> follow-ups in it (the demo's and the summary's figures)."""
    rows = conn.execute(
        "SELECT state, count(*) FROM shopsync.order_follow_ups GROUP BY state"
    ).fetchall()
    return dict(rows)


def resolve_flags(conn: psycopg.Connection, retailer: str, order_gid: str) -> None:
    """The order's cancel and edit flags are answered: the follow-up says what happened (a
    return is not a follow-up's business: it stays for a person)."""
    conn.execute(
        "UPDATE shopsync.order_flags SET resolved_at = coalesce(resolved_at, now())"
        " WHERE retailer = %s AND retailer_order_gid = %s"
        " AND kind IN ('cancelled_after_import', 'edited_after_import')",
        (retailer, order_gid),
    )


def hub_cancels_carried(conn: psycopg.Connection, retailer: str, order_gids: list[str]) -> set[str]:
    """Retailer orders we change (or will) because the hub cancelled them: their later
    cancel or edit at the retailer is ours, not the retailer's."""
    rows = conn.execute(
        "SELECT retailer_order_gid FROM shopsync.order_follow_ups WHERE retailer = %s"
        " AND retailer_order_gid = ANY(%s) AND action = 'hub_cancel'",
        (retailer, order_gids),
    ).fetchall()
    return {r[0] for r in rows}


def cancelled_by_us(conn: psycopg.Connection, retailer: str, order_gids: list[str]) -> set[str]:
    """Retailer orders whose hub order our follow-up cancelled (not the hub's own doing)."""
    rows = conn.execute(
        "SELECT retailer_order_gid FROM shopsync.order_follow_ups WHERE retailer = %s"
        " AND retailer_order_gid = ANY(%s) AND action = 'cancel' AND state IN"
        " ('cancelling', 'cancelled')",
        (retailer, order_gids),
    ).fetchall()
    return {r[0] for r in rows}
