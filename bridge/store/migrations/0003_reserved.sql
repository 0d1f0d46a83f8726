-- Schema version 3 is the wire side's (issue 13: the rendered bytes of a
-- post recorded at attempt time). This file only keeps the version
-- numbers 1..n on a branch without it: delete it when that migration is
-- merged.
SELECT 1;
