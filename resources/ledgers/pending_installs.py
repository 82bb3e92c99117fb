"""Stores awaiting their merchant's install (`shopsync.pending_installs`, migration 014).

`shopsync retailers add` records one when an authorization-code store has no token yet;
`shopsync serve` installs registry stores and these; the second `retailers add` finds the
token under the same key, writes the registry entry and forgets the row.
"""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from resources.registry import AuthorizationCodeAuth, StoreConfig


def record_pending(conn: psycopg.Connection, store: StoreConfig) -> None:
    if not isinstance(store.auth, AuthorizationCodeAuth):
        raise ValueError(f"store '{store.key}': only authorization-code stores wait for an install")
    with conn.transaction():  # the key may have waited under another (mistyped) domain
        conn.execute(
            "DELETE FROM shopsync.pending_installs WHERE store_key = %s AND shop_domain <> %s",
            (store.key, store.shop_domain),
        )
        _insert(conn, store)


def _insert(conn: psycopg.Connection, store: StoreConfig) -> None:
    conn.execute(
        "INSERT INTO shopsync.pending_installs (shop_domain, store_key, auth) VALUES (%s, %s, %s)"
        " ON CONFLICT (shop_domain) DO UPDATE SET store_key = excluded.store_key,"
        " auth = excluded.auth, created_at = now()",
        (store.shop_domain, store.key, Jsonb(store.auth.model_dump())),
    )


def pending_store(conn: psycopg.Connection, shop_domain: str) -> StoreConfig | None:
    row = conn.execute(
        "SELECT store_key, auth FROM shopsync.pending_installs WHERE shop_domain = %s",
        (shop_domain,),
    ).fetchone()
    if row is None:
        return None
    key, auth = row
    return StoreConfig(key=key, name=key, shop_domain=shop_domain, auth=auth)


def forget_pending(conn: psycopg.Connection, shop_domain: str) -> None:
    conn.execute("DELETE FROM shopsync.pending_installs WHERE shop_domain = %s", (shop_domain,))
