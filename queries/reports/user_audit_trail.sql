-- name: user_audit_trail
-- description: One user's complete trail in the period, oldest first: every attempt, success and failure
--   event with its outcome (see sign_ins; empty for a success event and for a failure that marked the
--   attempt before it), source IP and whether it was verified, context status, place, network, device
--   and the trigger's decision. A success event carries no IP or place: read them on the attempt before
--   it. The username must be given; it is matched in every user pool.
-- portability: array_to_string is array_join on Trino/Athena
-- param: $1 since TIMESTAMP = -30d  start of the period
-- param: $2 until TIMESTAMP = now  end of the period (exclusive)
-- param: $3 username TEXT  the user's username (required)
WITH trail AS (
    SELECT event_id, event_type, time, user_pool_id, username, client_id, source_ip, ip_verified,
           context_status, geo_country, geo_city, asn, as_org,
           device_browser, device_os, device_type, device_key, new_device,
           decision_action, decision_score, decision_level, decision_reasons,
           row_number() OVER (PARTITION BY event_id ORDER BY time) AS copy
    FROM events
    WHERE time >= $1 AND time < $2
      AND dt >= CAST(CAST($1 AS DATE) AS VARCHAR)
      -- until is exclusive: its date's files only when it is past that midnight
      AND (dt < CAST(CAST($2 AS DATE) AS VARCHAR)
           OR (dt = CAST(CAST($2 AS DATE) AS VARCHAR) AND CAST(CAST($2 AS DATE) AS TIMESTAMP) < $2))
      AND username = $3
      AND event_type IN ('auth.attempt', 'auth.success', 'auth.failure')
)
SELECT t.time, t.user_pool_id, t.username, t.event_type, s.outcome, t.client_id,
       t.source_ip, t.ip_verified, t.context_status, t.geo_country AS country, t.geo_city AS city,
       t.asn, t.as_org, t.device_browser, t.device_os, t.device_type, t.device_key, t.new_device,
       t.decision_action AS action, t.decision_score AS score, t.decision_level AS level,
       array_to_string(t.decision_reasons, ', ') AS reasons
FROM trail t
-- sign_ins is registered for this user alone (the runner binds its only_user to username).
LEFT JOIN sign_ins s ON s.event_id = t.event_id
WHERE t.copy = 1
ORDER BY t.time, t.event_type, t.event_id
