-- Schema version 7: an index on the replies by their Discord message. The
-- marks still to make (PendingAcks) look up, for each reply waiting for
-- its ✅ or ❌, whether a part of it failed; without this index each look
-- scanned every reply ever kept, and with a few hundred marks waiting one
-- read held the database for seconds, stalling polls and deliveries.
CREATE INDEX outbox_reply ON outbox(channel_id, discord_msg_id, state) WHERE direction = 'qq';
