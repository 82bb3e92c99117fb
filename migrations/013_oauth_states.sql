-- One row per `state` the install route hands out (service/states.py). The callback
-- consumes its nonce exactly once: a replayed callback finds it consumed and is refused
-- (FAULTS A4). Rows are kept after use so a replay is told apart from a forgery in logs.
CREATE TABLE shopsync.oauth_states (
    nonce        text PRIMARY KEY,
    store_key    text NOT NULL,
    shop_domain  text NOT NULL,
    issued_at    timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    consumed_at  timestamptz,
    CHECK (expires_at > issued_at)
);
-- Pruning expired states scans by expiry, not the whole table.
CREATE INDEX oauth_states_expires ON shopsync.oauth_states (expires_at);
