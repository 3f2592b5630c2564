-- name: spraying_candidates
-- description: Sources of password spraying: per verified source IP, the period's sign-in tries, the
--   distinct users tried and the heavy users among them (three or more tries each from that IP:
--   spraying tries a few common passwords on every user). failure_ratio is the share of the IP's tries
--   that failed; max_user_tries is the most tries on one user (a single user with many is brute force,
--   see user_audit_trail). Only IPs with at least min_users heavy users, the most first.
-- param: $1 since TIMESTAMP = -7d  start of the period
-- param: $2 until TIMESTAMP = now  end of the period (exclusive)
-- param: $3 min_users BIGINT = 5  fewest heavy users an IP must have
-- param: $4 limit BIGINT = 20  how many IPs
WITH per_user AS (
    -- An unverified IP is whatever the client claimed: not a source to blame.
    SELECT source_ip, user_pool_id, username,
           max(asn) AS asn, max(geo_country) AS country,
           count(*) AS tries,
           sum(CASE WHEN outcome = 'failure' THEN 1 ELSE 0 END) AS failures,
           sum(CASE WHEN outcome = 'denied' THEN 1 ELSE 0 END) AS denied,
           min(time) AS first_seen, max(time) AS last_seen
    FROM sign_ins
    WHERE time >= $1 AND time < $2 AND ip_verified AND source_ip IS NOT NULL
    GROUP BY source_ip, user_pool_id, username
),
per_ip AS (
    SELECT source_ip, max(asn) AS asn, max(country) AS country,
           count(*) AS users,
           sum(CASE WHEN tries >= 3 THEN 1 ELSE 0 END) AS heavy_users,
           sum(tries) AS tries, sum(failures) AS failures, sum(denied) AS denied,
           max(tries) AS max_user_tries,
           min(first_seen) AS first_seen, max(last_seen) AS last_seen
    FROM per_user
    GROUP BY source_ip
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
SELECT p.source_ip, p.country, p.asn, o.as_org, p.users, p.heavy_users, p.tries, p.failures, p.denied,
       round(CAST(p.failures AS DOUBLE) / p.tries, 3) AS failure_ratio,
       p.max_user_tries, p.first_seen, p.last_seen
FROM per_ip p
LEFT JOIN orgs o ON o.asn = p.asn
WHERE p.heavy_users >= $3
ORDER BY p.heavy_users DESC, p.failures DESC, p.source_ip
LIMIT $4
