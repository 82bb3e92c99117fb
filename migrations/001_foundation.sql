-- Foundation: the warehouse schema and the API call log every flow writes to.
CREATE SCHEMA IF NOT EXISTS shopsync;

-- One row per Shopify HTTP call (batched inserts by the client's recorder).
CREATE TABLE shopsync.api_calls (
    id              bigserial PRIMARY KEY,
    called_at       timestamptz NOT NULL DEFAULT now(),
    store           text NOT NULL,
    operation       text NOT NULL,
    requested_cost  integer,
    actual_cost     integer,
    duration_ms     double precision NOT NULL,
    http_status     integer,
    throttled       boolean NOT NULL DEFAULT false,
    retries         integer NOT NULL DEFAULT 0,
    run_id          text,
    request_id      text,
    error_code      text
);
CREATE INDEX api_calls_store_time ON shopsync.api_calls (store, called_at);
CREATE INDEX api_calls_run ON shopsync.api_calls (run_id);
