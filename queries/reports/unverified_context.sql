-- name: unverified_context
-- description: The period's attempts and failure reports whose client context could not be verified
--   (context_status other than 'verified': missing, unsigned, stale, bad_signature, malformed,
--   no_secret), per status and app client: their source IP is only what the client claimed. Many
--   bad_signature or stale from one client is tampering or a misconfigured secret; missing or unsigned
--   is an app not sending the context. Success events never carry the context and are left out.
-- param: $1 since TIMESTAMP = -7d  start of the period
-- param: $2 until TIMESTAMP = now  end of the period (exclusive)
WITH deduped AS (
    SELECT event_id, event_type, time, client_id, user_pool_id, username, source_ip,
           coalesce(context_status, 'missing') AS context_status,
           row_number() OVER (PARTITION BY event_id ORDER BY time) AS copy
    FROM events
    WHERE time >= $1 AND time < $2
      AND dt >= CAST(CAST($1 AS DATE) AS VARCHAR)
      -- until is exclusive: its date's files only when it is past that midnight
      AND (dt < CAST(CAST($2 AS DATE) AS VARCHAR)
           OR (dt = CAST(CAST($2 AS DATE) AS VARCHAR) AND CAST(CAST($2 AS DATE) AS TIMESTAMP) < $2))
      -- PostAuthentication gets no client metadata: its context is always missing.
      AND event_type IN ('auth.attempt', 'auth.failure')
      AND (context_status IS NULL OR context_status <> 'verified')
)
SELECT context_status, client_id,
       count(*) AS events,
       sum(CASE WHEN event_type = 'auth.attempt' THEN 1 ELSE 0 END) AS attempts,
       sum(CASE WHEN event_type = 'auth.failure' THEN 1 ELSE 0 END) AS failure_reports,
       count(DISTINCT user_pool_id || '/' || username) AS users,
       count(DISTINCT source_ip) AS ips,
       min(time) AS first_seen, max(time) AS last_seen
FROM deduped
WHERE copy = 1
GROUP BY context_status, client_id
ORDER BY events DESC, context_status, client_id
