-- Schema version 2: a catch-up watermark per channel. Every member message
-- up to caught_up_discord_id is known to the bridge; last_seen_discord_id
-- (the newest seen, advanced by live events) may lie beyond a gap left by
-- a gateway outage, so catch-ups read from here instead.
ALTER TABLE sessions ADD COLUMN caught_up_discord_id TEXT NOT NULL DEFAULT '';
