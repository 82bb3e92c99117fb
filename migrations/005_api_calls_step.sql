-- Per-step, per-retailer cost: a run covers many retailers and two steps, so a
-- partition's cost metadata is the sum of its own retailer's calls of its own step.
ALTER TABLE shopsync.api_calls ADD COLUMN step text;
ALTER TABLE shopsync.api_calls ADD COLUMN retailer text;
CREATE INDEX api_calls_run_step ON shopsync.api_calls (run_id, step, retailer);
