"""One-use OAuth states in Postgres (shopsync.oauth_states, migration 013).

The signature of a `state` proves this service issued it; only this table can prove it
was not used before. `consume` is one UPDATE, so two replays racing each other cannot
both win (FAULTS A4). `InstallStorage` is what the routes need of storage; the unit
tests give them an in-memory one, production the warehouse (`PostgresInstallStorage`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import psycopg

from resources.ledgers.pending_installs import pending_store
from resources.ledgers.tokens import TokenStore
from resources.postgres import PostgresResource
from resources.registry import StoreConfig
from resources.shopify.oauth import TokenGrant


class OAuthStateStore:
    """Issue and consume the nonces of signed states."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def issue(self, nonce: str, store_key: str, shop_domain: str, expires_at: datetime) -> None:
        self.conn.execute(
            "INSERT INTO shopsync.oauth_states (nonce, store_key, shop_domain, expires_at)"
            " VALUES (%s, %s, %s, %s)",
            (nonce, store_key, shop_domain, expires_at),
        )

    def consume(self, nonce: str, shop_domain: str) -> str | None:
        """Mark the nonce used; the store key it was issued for, or None when it is
        unknown, already used, expired or was issued for another shop."""
        row = self.conn.execute(
            "UPDATE shopsync.oauth_states SET consumed_at = now()"
            " WHERE nonce = %s AND shop_domain = %s AND consumed_at IS NULL"
            " AND expires_at > now() RETURNING store_key",
            (nonce, shop_domain),
        ).fetchone()
        return row[0] if row else None

    def was_consumed(self, nonce: str) -> bool:
        """Whether a refused nonce had been used (tells a replay from a stale state)."""
        row = self.conn.execute(
            "SELECT consumed_at IS NOT NULL FROM shopsync.oauth_states WHERE nonce = %s",
            (nonce,),
        ).fetchone()
        return bool(row and row[0])

    def prune(self, older_than: datetime) -> int:
        """Forget states that expired before `older_than`; return how many."""
        return self.conn.execute(
            "DELETE FROM shopsync.oauth_states WHERE expires_at < %s", (older_than,)
        ).rowcount


class InstallStorage(Protocol):
    """What the install routes keep: one-use states and the stores' tokens."""

    def issue_state(
        self, nonce: str, store_key: str, shop_domain: str, expires_at: datetime
    ) -> None: ...
    def consume_state(self, nonce: str, shop_domain: str) -> str | None: ...
    def state_was_used(self, nonce: str) -> bool: ...
    def save_grant(self, store_key: str, shop_domain: str, grant: TokenGrant) -> None: ...
    def pending_store(self, shop_domain: str) -> StoreConfig | None: ...
    def ping(self) -> None: ...
    def close(self) -> None: ...


class PostgresInstallStorage:
    """The warehouse as `InstallStorage` (pooled autocommit connections, migrated on
    first use); tokens are encrypted by `TokenStore` with SHOPSYNC_SECRET_KEY."""

    def __init__(self, postgres: PostgresResource) -> None:
        self.postgres = postgres

    def issue_state(
        self, nonce: str, store_key: str, shop_domain: str, expires_at: datetime
    ) -> None:
        with self.postgres.get_connection() as conn:
            OAuthStateStore(conn).issue(nonce, store_key, shop_domain, expires_at)

    def consume_state(self, nonce: str, shop_domain: str) -> str | None:
        with self.postgres.get_connection() as conn:
            return OAuthStateStore(conn).consume(nonce, shop_domain)

    def state_was_used(self, nonce: str) -> bool:
        with self.postgres.get_connection() as conn:
            return OAuthStateStore(conn).was_consumed(nonce)

    def save_grant(self, store_key: str, shop_domain: str, grant: TokenGrant) -> None:
        with self.postgres.get_connection() as conn:
            TokenStore(conn).save_grant(store_key, shop_domain, grant)

    def pending_store(self, shop_domain: str) -> StoreConfig | None:
        """A store `shopsync retailers add` is onboarding (not in the registry yet)."""
        with self.postgres.get_connection() as conn:
            return pending_store(conn, shop_domain)

    def ping(self) -> None:
        with self.postgres.get_connection() as conn:
            conn.execute("SELECT 1")

    def close(self) -> None:
        self.postgres.close()
