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
-- param: $1 since TIMESTAMP  start of the period
-- param: $2 until TIMESTAMP  end of the period (exclusive): the scoring time
-- param: $3 success_window INTERVAL  how soon after an attempt its success must come
-- param: $4 pending_window INTERVAL  how recent an attempt with nothing after it is still pending
-- param: $5 only_user TEXT  one username's tries alone (a user's outcomes depend on their events only), or '' for everyone
WITH deduped AS (
    SELECT event_id, event_type, time, user_pool_id, username, source_ip, ip_verified, asn,
           geo_country, geo_city, geo_latitude, geo_longitude, geo_accuracy_radius_km, anon_any, device_key,
           decision_action, decision_level,
           row_number() OVER (PARTITION BY event_id ORDER BY time) AS copy
    FROM events
    WHERE time >= $1 AND time < $2
      AND dt >= CAST(CAST($1 AS DATE) AS VARCHAR)
      -- until is exclusive: its date's files only when it is past that midnight
      AND (dt < CAST(CAST($2 AS DATE) AS VARCHAR)
           OR (dt = CAST(CAST($2 AS DATE) AS VARCHAR) AND CAST(CAST($2 AS DATE) AS TIMESTAMP) < $2))
      AND event_type IN ('auth.attempt', 'auth.success', 'auth.failure')
      AND ($5 = '' OR username = $5)
),
ordered AS (
    SELECT *,
           lead(event_type) OVER (PARTITION BY user_pool_id, username ORDER BY time, event_type, event_id) AS next_type,
           lead(time) OVER (PARTITION BY user_pool_id, username ORDER BY time, event_type, event_id) AS next_time,
           lag(event_type) OVER (PARTITION BY user_pool_id, username ORDER BY time, event_type, event_id) AS prev_type,
           lag(time) OVER (PARTITION BY user_pool_id, username ORDER BY time, event_type, event_id) AS prev_time
    FROM deduped
    WHERE copy = 1
)
SELECT event_id, event_type, time, user_pool_id, username, source_ip, ip_verified, asn,
       geo_country, geo_city, geo_latitude, geo_longitude, geo_accuracy_radius_km, anon_any, device_key,
       decision_level,
       CASE WHEN decision_action = 'deny' THEN 'denied'
            WHEN event_type = 'auth.attempt' AND next_type = 'auth.success'
                 AND next_time <= time + CAST($3 AS INTERVAL) THEN 'success'
            WHEN event_type = 'auth.attempt' AND next_type IS NULL
                 AND time + CAST($4 AS INTERVAL) > $2 THEN 'pending'
            ELSE 'failure' END AS outcome
FROM ordered
WHERE event_type = 'auth.attempt'
   OR (event_type = 'auth.failure'
       AND NOT (prev_type IS NOT NULL AND prev_type = 'auth.attempt' AND prev_time + CAST($3 AS INTERVAL) >= time))
