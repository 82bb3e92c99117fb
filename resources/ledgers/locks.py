"""Advisory locks: one writer per store and flow at a time, across processes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


@contextmanager
def store_lock(conn: psycopg.Connection, store_key: str) -> Iterator[None]:
    """Serialise writers of one store across processes (FAULTS O3, P6).

    A session-level advisory lock on a dedicated connection: a schedule tick and a
    backfill of the same retailer queue behind each other instead of racing.
    """
    conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"shopsync-store:{store_key}",))
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"shopsync-store:{store_key}",))
