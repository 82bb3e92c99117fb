"""The encrypted token rows of OAuth stores (`shopsync.store_tokens`, migration 012).

A refreshed pair replaces the old one in one statement, so the row always holds a pair
Shopify accepts: the previous refresh token stays usable until its replacement is first
used (Shopify changelog 2026-08-28), so a crash between the refresh response and this save
loses nothing; the next refresh simply repeats with the stored token. `generation` lets a
process that refreshed concurrently see that another already saved a newer pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from resources.secrets import Cipher
from sync.token_grant import TokenGrant

_UPSERT = """
INSERT INTO shopsync.store_tokens AS t (store_key, shop_domain, grant_kind, access_token_enc,
    refresh_token_enc, scope, expires_at, refresh_expires_at)
VALUES (%(store)s, %(shop)s, %(kind)s, %(access)s, %(refresh)s, %(scope)s, %(expires)s,
    %(refresh_expires)s)
ON CONFLICT (store_key) DO UPDATE SET shop_domain = excluded.shop_domain,
    grant_kind = excluded.grant_kind, access_token_enc = excluded.access_token_enc,
    refresh_token_enc = excluded.refresh_token_enc, scope = excluded.scope,
    expires_at = excluded.expires_at, refresh_expires_at = excluded.refresh_expires_at,
    generation = t.generation + 1, needs_reauth_at = NULL, needs_reauth_reason = NULL,
    updated_at = now()
RETURNING generation
"""
#: One store's token row is renewed or installed by one process at a time (a transaction-
#: scoped advisory lock: released by the commit that saves the new pair).
TOKEN_LOCK = "SELECT pg_advisory_xact_lock(hashtext('store_tokens:' || %s))"  # noqa: S105
_SELECT = """
SELECT shop_domain, grant_kind, access_token_enc, refresh_token_enc, scope, expires_at,
       refresh_expires_at, generation, needs_reauth_at, needs_reauth_reason
FROM shopsync.store_tokens WHERE store_key = %s
"""


@dataclass(frozen=True)
class StoredToken:
    """A store's row: its current grant, how often it was saved, whether it is quarantined."""

    store_key: str
    shop_domain: str
    grant_kind: str
    grant: TokenGrant
    generation: int
    needs_reauth_at: datetime | None
    needs_reauth_reason: str | None

    def expires_within(self, seconds: float, now: datetime | None = None) -> bool:
        if self.grant.expires_at is None:
            return False
        left = (self.grant.expires_at - (now or datetime.now(UTC))).total_seconds()
        return left <= seconds


class TokenStore:
    """Reads and writes `store_tokens`, encrypting every token with the env key."""

    def __init__(self, conn: psycopg.Connection, cipher: Cipher | None = None) -> None:
        self.conn = conn
        self.cipher = cipher or Cipher.from_env()

    def save_grant(
        self,
        store_key: str,
        shop_domain: str,
        grant: TokenGrant,
        grant_kind: str = "authorization_code",
    ) -> int:
        """Replace the store's pair atomically (one statement) under the store's token lock,
        so an install never interleaves with a refresh; returns the new generation."""
        refresh = grant.refresh_token
        with self.conn.transaction():
            self.conn.execute(TOKEN_LOCK, (store_key,))
            row = self._upsert(store_key, shop_domain, grant, grant_kind, refresh)
        return int(row[0])

    def _upsert(self, store_key, shop_domain, grant: TokenGrant, grant_kind, refresh):
        return self.conn.execute(
            _UPSERT,
            {
                "store": store_key,
                "shop": shop_domain,
                "kind": grant_kind,
                "access": self.cipher.encrypt(grant.access_token),
                "refresh": self.cipher.encrypt(refresh) if refresh else None,
                "scope": grant.scope,
                "expires": grant.expires_at,
                "refresh_expires": grant.refresh_expires_at,
            },
        ).fetchone()

    def load(self, store_key: str) -> StoredToken | None:
        row = self.conn.execute(_SELECT, (store_key,)).fetchone()
        if row is None:
            return None
        shop, kind, access, refresh, scope, expires, refresh_expires, gen, reauth, why = row
        grant = TokenGrant(
            access_token=self.cipher.decrypt(access),
            scope=scope,
            expires_at=expires,
            refresh_token=self.cipher.decrypt(refresh) if refresh is not None else None,
            refresh_expires_at=refresh_expires,
        )
        return StoredToken(store_key, shop, kind, grant, gen, reauth, why)

    def quarantine(self, store_key: str, reason: str, generation: int | None = None) -> bool:
        """Mark the store as needing a new install; True only for the first marking. With
        `generation`, only if the row is still the one found dead (not a newer install)."""
        cursor = self.conn.execute(
            "UPDATE shopsync.store_tokens SET needs_reauth_at = now(), needs_reauth_reason = %s,"
            " updated_at = now() WHERE store_key = %s AND needs_reauth_at IS NULL"
            " AND (%s::bigint IS NULL OR generation = %s::bigint)",
            (reason, store_key, generation, generation),
        )
        return cursor.rowcount == 1

    def forget(self, store_key: str) -> None:
        self.conn.execute("DELETE FROM shopsync.store_tokens WHERE store_key = %s", (store_key,))
