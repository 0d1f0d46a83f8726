-- Schema version 4: delivery states you can see. `state` stays the coarse
-- open/settled value the queries branch on ('pending' while not settled;
-- 'delivered'; 'failed' for anything settled without a delivery); `status`
-- says exactly where an entry stands:
--   pending     waiting for its turn (or for a retry after a transient failure)
--   attempting  a call is under way (found so after a crash: it may have
--               happened, and is reconciled before any second attempt)
--   ambiguous   the last call may have happened; reconciled before any
--               second attempt
--   delivered   done
--   parked      failed for good (a permanent refusal, or MaxAttempts); it
--               waits for an admin's /retry or /skip and blocks nothing
--   skipped     settled by an admin's /skip without being delivered
--   refused     a member's reply refused when queued (too long); nothing
--               to retry
-- attempted_at is when the last attempt started (unix ms): a QQ send is
-- asynchronous, so its absence is concluded only some time after it.
ALTER TABLE outbox ADD COLUMN status TEXT NOT NULL DEFAULT 'pending'
	CHECK (status IN ('pending', 'attempting', 'ambiguous', 'delivered', 'parked', 'skipped', 'refused'));
ALTER TABLE outbox ADD COLUMN attempted_at INTEGER NOT NULL DEFAULT 0;

UPDATE outbox SET status = CASE
	WHEN state = 'delivered' THEN 'delivered'
	WHEN state = 'failed' AND direction = 'qq' AND client_key = '' THEN 'refused'
	WHEN state = 'failed' THEN 'parked'
	WHEN attempts > 0 THEN 'ambiguous'
	ELSE 'pending' END;

CREATE INDEX outbox_parked ON outbox(session_id, id) WHERE status = 'parked';
CREATE INDEX outbox_pending_age ON outbox(direction, created_at) WHERE state = 'pending';
