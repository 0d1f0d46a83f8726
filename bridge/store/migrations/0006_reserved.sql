-- Schema version 6 belongs to another branch (issues 13, 14 and 16 share
-- 0003-0006). This file only keeps the version numbers 1..n contiguous on
-- a branch without it: delete it when that migration is merged.
SELECT 1;
