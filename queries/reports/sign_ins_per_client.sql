-- name: sign_ins_per_client
-- description: Per app client (Cognito app client id), the period's sign-in tries and how they ended
--   (see sign_ins), how many the trigger decided at high risk, and how many distinct users and IPs
--   tried. A client with a failure ratio far above the others is the one being attacked, or one whose
--   backend reports failures differently.
-- param: $1 since TIMESTAMP = -7d  start of the period
-- param: $2 until TIMESTAMP = now  end of the period (exclusive)
WITH clients AS (
    -- sign_ins has no client_id: copies of an event share it, so any copy's will do.
    SELECT event_id, max(client_id) AS client_id
    FROM events
    WHERE time >= $1 AND time < $2
      AND dt >= CAST(CAST($1 AS DATE) AS VARCHAR)
      -- until is exclusive: its date's files only when it is past that midnight
      AND (dt < CAST(CAST($2 AS DATE) AS VARCHAR)
           OR (dt = CAST(CAST($2 AS DATE) AS VARCHAR) AND CAST(CAST($2 AS DATE) AS TIMESTAMP) < $2))
      AND event_type IN ('auth.attempt', 'auth.failure')
    GROUP BY event_id
),
per_client AS (
    SELECT c.client_id,
           count(*) AS tries,
           sum(CASE WHEN s.outcome = 'success' THEN 1 ELSE 0 END) AS successes,
           sum(CASE WHEN s.outcome = 'failure' THEN 1 ELSE 0 END) AS failures,
           sum(CASE WHEN s.outcome = 'denied' THEN 1 ELSE 0 END) AS denied,
           sum(CASE WHEN s.decision_level = 'high' THEN 1 ELSE 0 END) AS high_risk,
           count(DISTINCT s.user_pool_id || '/' || s.username) AS users,
           count(DISTINCT s.source_ip) AS ips
    FROM sign_ins s
    LEFT JOIN clients c ON c.event_id = s.event_id
    WHERE s.time >= $1 AND s.time < $2
    GROUP BY c.client_id
)
SELECT client_id, tries, successes, failures, denied, high_risk, users, ips,
       round(CAST(failures AS DOUBLE) / tries, 3) AS failure_ratio
FROM per_client
ORDER BY tries DESC, client_id
