-- name: sign_ins
-- description: Every sign-in try in the period with its outcome: the one place where authtrail decides
--   what failed. Copies of one event (Cognito retries, a re-delivered stream batch) count once. An
--   attempt the trigger denied is 'denied'. Otherwise it is a 'success' when the next event of the
--   same user is a success within the success window, 'pending' when nothing follows it yet and it
--   is more recent than the pending window (its success may still be on its way), else a 'failure'
--   (a typo followed by the right password is one failure, one success). An auth.failure sent by the
--   app backend marks the attempt before it as failed; without such an attempt (PreAuthentication
--   never fires for unknown users) it is a failed try of its own. The scorer's other queries read
--   this as the table sign_ins. Two sign-ins of one user interleaved within seconds can be misread.
--   level_rank orders the decision levels (0 none, 1 low, 2 medium, 3 high) for every reader, and
--   blocked is the one definition of a blocked try: denied, or decided at or above the deny level
--   (in audit mode nothing is denied, so this is what enforce mode would have blocked).
-- param: $1 since TIMESTAMP  start of the period
-- param: $2 until TIMESTAMP  end of the period (exclusive): the scoring time
-- param: $3 success_window INTERVAL  how soon after an attempt its success must come
-- param: $4 pending_window INTERVAL  how recent an attempt with nothing after it is still pending
-- param: $5 only_user TEXT  one username's tries alone (a user's outcomes depend on their events only), or '' for everyone
-- param: $6 deny_rank BIGINT  the policy's deny level (1 low, 2 medium, 3 high): blocked is what enforce mode blocks
-- Both passes order the whole period rather than partition it: DataFusion 55's windows over
-- many small partitions (an event, a user) took twice as long over a day of 333k events. The
-- rows of one user are consecutive in the second order; a neighbour of another user is none.
WITH tries AS (
    SELECT event_id, event_type, time, user_pool_id, username, source_ip, ip_verified, asn,
           geo_country, geo_city, geo_latitude, geo_longitude, geo_accuracy_radius_km, anon_any, device_key,
           decision_action, decision_level,
           -- the decision ranking, defined here once: 0 none, 1 low, 2 medium, 3 high
           CASE decision_level WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END AS level_rank,
           lag(event_id) OVER (ORDER BY event_id, time) AS copy_of
    FROM events
    -- read from one success window before the period: a try's neighbours are the same whatever the
    -- period's start, so a day's rows can be computed in pieces and held (the scorer does)
    WHERE time >= $1 - CAST($3 AS INTERVAL) AND time < $2
      -- the hourly partitions that can hold those times (dt 'YYYY-MM-DD', hour 'HH'), from the first
      -- instant read to the last (until is exclusive)
      AND (dt > CAST(CAST($1 - CAST($3 AS INTERVAL) AS DATE) AS VARCHAR)
           OR (dt = CAST(CAST($1 - CAST($3 AS INTERVAL) AS DATE) AS VARCHAR)
               AND hour >= lpad(CAST(date_part('hour', $1 - CAST($3 AS INTERVAL)) AS VARCHAR), 2, '0')))
      AND (dt < CAST(CAST($2 - INTERVAL '1 microsecond' AS DATE) AS VARCHAR)
           OR (dt = CAST(CAST($2 - INTERVAL '1 microsecond' AS DATE) AS VARCHAR)
               AND hour <= lpad(CAST(date_part('hour', $2 - INTERVAL '1 microsecond') AS VARCHAR), 2, '0')))
      AND event_type IN ('auth.attempt', 'auth.success', 'auth.failure')
      AND ($5 = '' OR username = $5)
),
neighbours AS (
    SELECT *,
           lead(user_pool_id) OVER w AS next_pool, lead(username) OVER w AS next_user,
           lead(event_type) OVER w AS next_event, lead(time) OVER w AS next_time,
           lag(user_pool_id) OVER w AS prev_pool, lag(username) OVER w AS prev_user,
           lag(event_type) OVER w AS prev_event, lag(time) OVER w AS prev_time
    FROM tries
    -- the earliest copy of each event
    WHERE copy_of IS NULL OR copy_of <> event_id
    WINDOW w AS (ORDER BY user_pool_id, username, time, event_type, event_id)
),
ordered AS (
    SELECT *,
           CASE WHEN next_pool = user_pool_id AND next_user = username THEN next_event END AS next_type,
           CASE WHEN prev_pool = user_pool_id AND prev_user = username THEN prev_event END AS prev_type
    FROM neighbours
)
SELECT event_id, event_type, time, user_pool_id, username, source_ip, ip_verified, asn,
       geo_country, geo_city, geo_latitude, geo_longitude, geo_accuracy_radius_km, anon_any, device_key,
       decision_level, level_rank,
       COALESCE(decision_action = 'deny', false) OR level_rank >= $6 AS blocked,
       CASE WHEN decision_action = 'deny' THEN 'denied'
            WHEN event_type = 'auth.attempt' AND next_type = 'auth.success'
                 AND next_time <= time + CAST($3 AS INTERVAL) THEN 'success'
            WHEN event_type = 'auth.attempt' AND next_type IS NULL
                 AND time + CAST($4 AS INTERVAL) > $2 THEN 'pending'
            ELSE 'failure' END AS outcome
FROM ordered
WHERE time >= $1
  AND (event_type = 'auth.attempt'
       OR (event_type = 'auth.failure'
           AND NOT (prev_type IS NOT NULL AND prev_type = 'auth.attempt' AND prev_time + CAST($3 AS INTERVAL) >= time)))
