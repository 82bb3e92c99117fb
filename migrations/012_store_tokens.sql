-- OAuth tokens of stores (FACTS §10.1), encrypted with SHOPSYNC_SECRET_KEY (Fernet): a dump
-- or a leaked row holds no usable token. One row per store; `generation` grows on every
-- save, so a refresh that lost the race to another process can tell and re-read.
-- `needs_reauth_at` quarantines the store: its refresh token was refused, nothing can
-- mint a new token until the merchant installs again (FAULTS A3).
CREATE TABLE shopsync.store_tokens (
    store_key           text PRIMARY KEY,
    shop_domain         text NOT NULL,
    grant_kind          text NOT NULL CHECK (grant_kind IN ('client_credentials',
                            'authorization_code')),
    access_token_enc    bytea NOT NULL,
    refresh_token_enc   bytea,
    scope               text NOT NULL DEFAULT '',
    expires_at          timestamptz,
    refresh_expires_at  timestamptz,
    generation          bigint NOT NULL DEFAULT 1,
    needs_reauth_at     timestamptz,
    needs_reauth_reason text,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
