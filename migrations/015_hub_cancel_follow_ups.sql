-- A hub order cancelled by the hub itself (FAULTS O15), carried back to the retailer order
-- when the retailer's registry entry says `on_hub_cancel: cancel_at_retailer`: one row per
-- retailer order in shopsync.order_follow_ups, change_key 'hub_cancel', action 'hub_cancel'.
--   waiting -> cancelling_at_retailer -> cancelled_at_retailer  (nothing shipped: the
--                                                                retailer order is cancelled)
--   waiting -> editing_at_retailer -> edited_at_retailer        (part shipped or lines at
--                                                                other locations: the hub
--                                                                location's units are removed)
--   failed                                                      (Shopify refused: a person)
-- `waiting` is claimed when the hub cancel is seen; the write waits until every shipment of
-- the hub order is pushed, so what is removed at the retailer is exactly what never ships.
ALTER TABLE shopsync.order_follow_ups DROP CONSTRAINT order_follow_ups_action_check;
ALTER TABLE shopsync.order_follow_ups ADD CONSTRAINT order_follow_ups_action_check
    CHECK (action IN ('cancel', 'hold_for_review', 'edit', 'hub_cancel'));
ALTER TABLE shopsync.order_follow_ups DROP CONSTRAINT order_follow_ups_state_check;
ALTER TABLE shopsync.order_follow_ups ADD CONSTRAINT order_follow_ups_state_check
    CHECK (state IN ('holding', 'cancelling', 'cancelled', 'editing', 'edited',
                     'held_for_review', 'failed', 'waiting', 'cancelling_at_retailer',
                     'cancelled_at_retailer', 'editing_at_retailer', 'edited_at_retailer'));
-- The carry-back waits for the hub order's shipments to be pushed: read by hub order.
CREATE INDEX hub_fulfillments_hub_order ON shopsync.hub_fulfillments (hub_order_gid);
