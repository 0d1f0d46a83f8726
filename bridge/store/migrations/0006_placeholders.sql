-- Schema version 6: the placeholder notice of a parked QQ message (issue
-- 13). placeholder_msg_id is '' while none was posted, '?' once a post has
-- started and its answer is not recorded yet (it may have happened: the
-- post is made again with the same nonce, which Discord answers with the
-- first message), then the Discord message id of the notice.
-- ack = 1 on a ToDiscord entry means its placeholder still has to be made
-- to say what is true: posted (parked), reworded (skipped, or parked
-- again), or deleted (delivered after an admin's /retry).
ALTER TABLE outbox ADD COLUMN placeholder_msg_id TEXT NOT NULL DEFAULT '';
