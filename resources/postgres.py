"""Postgres: the warehouse tables and the exactly-once ledgers.

`PostgresResource` hands out pooled psycopg 3 connections. The URL comes from
`SHOPSYNC_DATABASE_URL`; when that is unset an embedded server is started (see
`resources.embedded_postgres`). Migrations are numbered SQL files applied once
each under an advisory lock, so concurrent processes starting together are safe.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool
from pydantic import PrivateAttr

from resources.paths import PROJECT_ROOT

log = logging.getLogger(__name__)

DATABASE_URL_ENV = "SHOPSYNC_DATABASE_URL"
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
_MIGRATION_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_MIGRATION_LOCK = 0x5350_5359  # any constant: serialises concurrent migrators


def database_url() -> str:
    """The warehouse URL: the configured one, else the embedded server's."""
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        return url
    from resources.embedded_postgres import embedded_server_url

    return embedded_server_url(database="postgres")


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = database
    return psycopg.conninfo.make_conninfo(**info)


def ensure_database(url: str, database: str) -> str:
    """Create `database` on the server of `url` if missing; return its URL."""
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    return with_database(url, database)


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[tuple[int, str, Path]]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_FILE.match(path.name)
        if not match:
            raise ValueError(f"migration {path.name}: name it NNN_lower_snake.sql")
        found.append((int(match.group(1)), match.group(2), path))
    numbers = [n for n, _, _ in found]
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"two migrations share a number in {directory}")
    return found


def apply_migrations(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every migration not yet recorded; return the names applied now."""
    applied_now: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute("CREATE SCHEMA IF NOT EXISTS shopsync_meta")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS shopsync_meta.schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {
            row[0] for row in conn.execute("SELECT version FROM shopsync_meta.schema_migrations")
        }
        for version, name, path in migration_files(directory):
            if version in done:
                continue
            conn.execute(path.read_text())
            conn.execute(
                "INSERT INTO shopsync_meta.schema_migrations (version, name) VALUES (%s, %s)",
                (version, name),
            )
            applied_now.append(f"{version:03d}_{name}")
    if applied_now:
        log.info("applied migrations: %s", ", ".join(applied_now))
    return applied_now


def copy_upsert(
    conn: psycopg.Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    conflict_columns: Sequence[str] | None = None,
    update_columns: Sequence[str] | None = None,
    keep_previous: Mapping[str, str] | None = None,
) -> int:
    """Bulk upsert: COPY into a temp table, then one INSERT … ON CONFLICT.

    One round trip per batch instead of one per row. With `conflict_columns`
    and no `update_columns`, conflicting rows are left as they are (DO NOTHING).
    `keep_previous` maps a column to another whose *old* value it takes on update
    (`{"known_available": "available"}`: remember what the row said before).
    Returns the number of rows inserted or updated.
    """
    with conn.transaction():  # the temp table lives until the end of this transaction
        return _copy_upsert(
            conn, table, columns, rows, conflict_columns, update_columns, keep_previous or {}
        )


def _copy_upsert(conn, table, columns, rows, conflict_columns, update_columns, previous) -> int:
    schema, _, name = table.rpartition(".")
    target = sql.Identifier(schema, name) if schema else sql.Identifier(name)
    temp = sql.Identifier(f"_stage_{name}")
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    conn.execute(
        sql.SQL(
            "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP"
        ).format(temp, target)
    )
    conn.execute(sql.SQL("TRUNCATE {}").format(temp))
    with conn.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(temp, cols)) as copy:
        for row in rows:
            copy.write_row(row)
    insert = sql.SQL("INSERT INTO {} AS existing ({}) SELECT {} FROM {}").format(
        target, cols, cols, temp
    )
    if conflict_columns:
        keys = sql.SQL(", ").join(sql.Identifier(c) for c in conflict_columns)
        if update_columns:
            sets = sql.SQL(", ").join(
                [
                    sql.SQL("{} = existing.{}").format(sql.Identifier(c), sql.Identifier(old))
                    for c, old in previous.items()
                ]
                + [
                    sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c))
                    for c in update_columns
                ]
            )
            insert += sql.SQL(" ON CONFLICT ({}) DO UPDATE SET {}").format(keys, sets)
        else:
            insert += sql.SQL(" ON CONFLICT ({}) DO NOTHING").format(keys)
    return conn.execute(insert).rowcount


class PostgresResource(dg.ConfigurableResource):
    """Pooled connections to the warehouse database, migrated on first use.

    `url` is optional: unset means "SHOPSYNC_DATABASE_URL, else the embedded
    server", resolved lazily so loading definitions never touches a database.
    """

    url: str | None = None
    pool_max_size: int = 8

    _pool: ConnectionPool | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def resolved_url(self) -> str:
        return self.url or database_url()

    def _get_pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                url = self.resolved_url()
                with psycopg.connect(url) as conn:
                    apply_migrations(conn)
                self._pool = ConnectionPool(
                    url,
                    min_size=1,
                    max_size=self.pool_max_size,
                    kwargs={"autocommit": True},
                    # A Postgres restart leaves dead sessions idle in the pool; check each
                    # before handing it out so the next user reconnects (FAULTS P9).
                    check=ConnectionPool.check_connection,
                    open=True,
                    name="shopsync",
                )
            return self._pool

    @contextmanager
    def get_connection(self) -> Iterator[psycopg.Connection]:
        """A pooled autocommit connection.

        Autocommit, so that a ledger claim is durable the moment its statement
        returns, before the Shopify mutation it guards; group statements that must
        be atomic in `with conn.transaction():`.
        """
        with self._get_pool().connection() as conn:
            yield conn

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


_MIGRATED: set[str] = set()


@contextmanager
def token_connection(url: str | None = None) -> Iterator[psycopg.Connection]:
    """A short autocommit connection for the rare token reads and renewals of OAuth stores
    (outside any pool: a Shopify client is built in places that hold no pool)."""
    url = url or database_url()
    with psycopg.connect(url, autocommit=True) as conn:
        if url not in _MIGRATED:
            apply_migrations(conn)
            _MIGRATED.add(url)
        yield conn
