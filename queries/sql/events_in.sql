-- name: events_in
-- description: How many events the lake holds in a period (what a scoring run reads), pruned to the
--   period's date partitions.
-- param: $1 since TIMESTAMP  start of the period
-- param: $2 until TIMESTAMP  end of the period (exclusive)
SELECT count(*) AS events
FROM events
WHERE time >= $1 AND time < $2
  AND dt >= CAST(CAST($1 AS DATE) AS VARCHAR)
  -- until is exclusive: its date's files only when it is past that midnight
  AND (dt < CAST(CAST($2 AS DATE) AS VARCHAR)
       OR (dt = CAST(CAST($2 AS DATE) AS VARCHAR) AND CAST(CAST($2 AS DATE) AS TIMESTAMP) < $2))
