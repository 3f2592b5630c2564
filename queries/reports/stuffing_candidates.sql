-- name: stuffing_candidates
-- description: Sources of credential stuffing: per verified source IP, and per network (ASN) because a
--   botnet rotates IPs within few networks, the period's sign-in tries, the distinct users tried, and
--   the light users among them (one or two tries each from that source: stuffing tries each leaked
--   username and password once). A busy NAT or a big network also has many light users, but theirs
--   succeed: light_failed_users counts the light users with a failed try, and sources with the most of
--   them come first. Only sources that tried at least min_users users.
-- param: $1 since TIMESTAMP = -7d  start of the period
-- param: $2 until TIMESTAMP = now  end of the period (exclusive)
-- param: $3 min_users BIGINT = 10  fewest distinct users a source must have tried
-- param: $4 limit BIGINT = 20  how many sources
WITH tries AS (
    -- An unverified IP is whatever the client claimed: not a source to blame.
    SELECT source_ip, asn, user_pool_id, username, time, outcome
    FROM sign_ins
    WHERE time >= $1 AND time < $2 AND ip_verified
),
sources AS (
    SELECT 'ip' AS kind, source_ip AS source, asn, user_pool_id, username, time, outcome
    FROM tries WHERE source_ip IS NOT NULL
    UNION ALL
    SELECT 'asn' AS kind, CAST(asn AS VARCHAR) AS source, asn, user_pool_id, username, time, outcome
    FROM tries WHERE asn IS NOT NULL
),
per_user AS (
    SELECT kind, source, user_pool_id, username,
           max(asn) AS asn,
           count(*) AS tries,
           sum(CASE WHEN outcome = 'failure' THEN 1 ELSE 0 END) AS failures,
           sum(CASE WHEN outcome = 'denied' THEN 1 ELSE 0 END) AS denied,
           min(time) AS first_seen, max(time) AS last_seen
    FROM sources
    GROUP BY kind, source, user_pool_id, username
),
per_source AS (
    SELECT kind, source, max(asn) AS asn,
           count(*) AS users,
           sum(CASE WHEN tries <= 2 THEN 1 ELSE 0 END) AS light_users,
           sum(CASE WHEN tries <= 2 AND failures > 0 THEN 1 ELSE 0 END) AS light_failed_users,
           sum(tries) AS tries, sum(failures) AS failures, sum(denied) AS denied,
           min(first_seen) AS first_seen, max(last_seen) AS last_seen
    FROM per_user
    GROUP BY kind, source
),
-- sign_ins has no as_org: take each network's name from the period's events.
orgs AS (
    SELECT asn, max(as_org) AS as_org
    FROM events
    WHERE time >= $1 AND time < $2
      AND dt >= CAST(CAST($1 AS DATE) AS VARCHAR)
      -- until is exclusive: its date's files only when it is past that midnight
      AND (dt < CAST(CAST($2 AS DATE) AS VARCHAR)
           OR (dt = CAST(CAST($2 AS DATE) AS VARCHAR) AND CAST(CAST($2 AS DATE) AS TIMESTAMP) < $2))
      AND asn IS NOT NULL
    GROUP BY asn
)
SELECT s.kind, s.source, s.asn, o.as_org, s.users, s.light_users, s.light_failed_users,
       s.tries, s.failures, s.denied,
       round(CAST(s.failures AS DOUBLE) / s.tries, 3) AS failure_ratio,
       s.first_seen, s.last_seen
FROM per_source s
LEFT JOIN orgs o ON o.asn = s.asn
WHERE s.users >= $3
ORDER BY s.light_failed_users DESC, s.light_users DESC, s.failures DESC, s.kind, s.source
LIMIT $4
