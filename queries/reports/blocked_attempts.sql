-- name: blocked_attempts
-- description: The period's sign-in attempts the trigger denied or decided at high risk (or, with
--   min_level 'medium', at medium risk too), newest first: who, from where, on what device, the score,
--   level, action and reasons of the decision, and how the try ended (see sign_ins). In audit mode the
--   trigger allows everything, so a high-risk attempt that ended in 'success' is the one to look at.
-- portability: array_to_string is array_join on Trino/Athena
-- param: $1 since TIMESTAMP = -7d  start of the period
-- param: $2 until TIMESTAMP = now  end of the period (exclusive)
-- param: $3 min_level TEXT[high|medium] = high  lowest decision level shown besides denials
-- param: $4 limit BIGINT = 50  how many attempts
WITH attempts AS (
    SELECT event_id, time, user_pool_id, username, source_ip, ip_verified, geo_country, geo_city, asn, as_org,
           device_type, device_os, device_browser, device_key,
           decision_action, decision_score, decision_level, decision_reasons,
           row_number() OVER (PARTITION BY event_id ORDER BY time) AS copy
    FROM events
    WHERE time >= $1 AND time < $2
      AND dt >= CAST(CAST($1 AS DATE) AS VARCHAR)
      -- until is exclusive: its date's files only when it is past that midnight
      AND (dt < CAST(CAST($2 AS DATE) AS VARCHAR)
           OR (dt = CAST(CAST($2 AS DATE) AS VARCHAR) AND CAST(CAST($2 AS DATE) AS TIMESTAMP) < $2))
      AND event_type = 'auth.attempt'
      AND (decision_action = 'deny' OR decision_level IN ('high', 'medium'))
)
SELECT a.time, a.user_pool_id, a.username, a.source_ip, a.ip_verified, a.geo_country AS country,
       a.geo_city AS city, a.asn, a.as_org, a.device_type, a.device_os, a.device_browser, a.device_key,
       a.decision_score AS score, a.decision_level AS level, a.decision_action AS action, s.outcome,
       array_to_string(a.decision_reasons, ', ') AS reasons
FROM attempts a
LEFT JOIN sign_ins s ON s.event_id = a.event_id
WHERE a.copy = 1
  -- sign_ins' level_rank: the one ranking of decision levels
  AND (a.decision_action = 'deny' OR s.level_rank >= CASE WHEN $3 = 'medium' THEN 2 ELSE 3 END)
ORDER BY a.time DESC, a.event_id
LIMIT $4
