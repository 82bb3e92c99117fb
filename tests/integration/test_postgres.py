"""The Postgres resource: migrations once, COPY upserts, embedded or external server."""

from __future__ import annotations

import psycopg
import pytest

from resources.postgres import apply_migrations, copy_upsert, migration_files

pytestmark = pytest.mark.integration


def test_migrations_recorded_once(db_url):
    with psycopg.connect(db_url) as conn:
        assert apply_migrations(conn) == []
        versions = [
            r[0] for r in conn.execute("SELECT version FROM shopsync_meta.schema_migrations")
        ]
    assert versions == [n for n, _, _ in migration_files()]


def test_copy_upsert_inserts_updates_and_skips(db):
    db.execute("CREATE TABLE IF NOT EXISTS shopsync.t_upsert (k text PRIMARY KEY, v int, w text)")
    with db.transaction():
        assert (
            copy_upsert(
                db,
                "shopsync.t_upsert",
                ["k", "v", "w"],
                [("a", 1, "x"), ("b", 2, "y")],
                ["k"],
                ["v"],
            )
            == 2
        )
    with db.transaction():
        copy_upsert(
            db,
            "shopsync.t_upsert",
            ["k", "v", "w"],
            [("a", 10, "changed"), ("c", 3, "z")],
            ["k"],
            ["v"],
        )
    rows = db.execute("SELECT k, v, w FROM shopsync.t_upsert ORDER BY k").fetchall()
    assert rows == [("a", 10, "x"), ("b", 2, "y"), ("c", 3, "z")]
    with db.transaction():
        assert copy_upsert(db, "shopsync.t_upsert", ["k", "v", "w"], [("a", 99, "q")], ["k"]) == 0
    assert db.execute("SELECT v FROM shopsync.t_upsert WHERE k='a'").fetchone() == (10,)


def test_resource_pool_connects_and_commits(postgres):
    with postgres.get_connection() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS shopsync.t_pool (n int)")
        conn.execute("INSERT INTO shopsync.t_pool VALUES (1)")
    with postgres.get_connection() as conn:
        assert conn.execute("SELECT count(*) FROM shopsync.t_pool").fetchone() == (1,)
