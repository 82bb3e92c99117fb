-- The follow-up step reads the orders its run landed: by retailer and run, not a scan of
-- every order the retailer ever sent (resources/ledgers/follow_ups.py, candidates).
CREATE INDEX retailer_orders_last_run ON shopsync.retailer_orders (retailer, last_run_id);
-- Refunded orders, for the exception queue and the daily summary (a partial index: most
-- orders are never refunded, and neither reader may scan every order's raw JSON).
CREATE INDEX retailer_orders_refunded ON shopsync.retailer_orders (retailer)
    WHERE jsonb_array_length(coalesce(raw -> 'refunds', '[]'::jsonb)) > 0;
