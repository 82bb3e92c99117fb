-- Which run last claimed a link, so checks can judge exactly the links their run touched
-- (a claim healed from an earlier, killed run counts for the run that healed it).
ALTER TABLE shopsync.order_links ADD COLUMN last_run_id text;
UPDATE shopsync.order_links SET last_run_id = claim_run_id;
CREATE INDEX order_links_last_run ON shopsync.order_links (last_run_id);
