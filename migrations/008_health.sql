-- Health alert state: one row per threshold and retailer × flow it judges, so a
-- crossing alerts once (not on every 15-minute refresh) and a recovery alerts once.
CREATE TABLE shopsync.health_alert_state (
    threshold   text NOT NULL,           -- success_rate | api_response_seconds | error_rate | uptime
    scope       text NOT NULL,           -- 'retailer/flow'
    crossed     boolean NOT NULL,
    since       timestamptz NOT NULL,    -- when it entered this state
    last_value  double precision,        -- the figure at the last judged refresh
    samples     integer NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (threshold, scope)
);
-- Health reads api_calls by time window across all stores.
CREATE INDEX IF NOT EXISTS api_calls_called_at ON shopsync.api_calls (called_at);
