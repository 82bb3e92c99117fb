-- Stores being onboarded by the authorization-code grant (`shopsync retailers add`): not
-- in the registry yet (its entry needs the store's locations, readable only once it is
-- installed), but `shopsync serve` may send their merchant through the install. The row
-- holds only names: the store's key, domain and the registry `auth` block (env var
-- names, scopes), never a secret. Removed once the store is in the registry.
CREATE TABLE shopsync.pending_installs (
    shop_domain text PRIMARY KEY,
    store_key   text NOT NULL UNIQUE,
    auth        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
