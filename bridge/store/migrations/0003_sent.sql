-- Schema version 3: what a delivery to Discord sent, exactly (the adapter's
-- versioned rendering), recorded with its first attempt. Later attempts
-- post it again as is and reconciliations look for it, never for a new
-- rendering. NULL until the first attempt (and for entries attempted by
-- an older version).
ALTER TABLE outbox ADD COLUMN sent BLOB;
