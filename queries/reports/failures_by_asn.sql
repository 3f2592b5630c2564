-- name: failures_by_asn
-- description: Per network (autonomous system) of the source IP, the period's sign-in tries and how many
--   failed, were denied or were decided at high risk, from how many users and IPs. A botnet rotates IPs
--   but often within few networks, so a network with many failures from many IPs stands out here when
--   no single IP does. failure_ratio is the share of the network's tries that failed; failure_share is
--   its share of all failures. Networks with the most failures first.
-- param: $1 since TIMESTAMP = -7d  start of the period
-- param: $2 until TIMESTAMP = now  end of the period (exclusive)
-- param: $3 limit BIGINT = 20  how many networks
WITH per_asn AS (
    SELECT asn,
           count(*) AS tries,
           sum(CASE WHEN outcome = 'failure' THEN 1 ELSE 0 END) AS failures,
           sum(CASE WHEN outcome = 'denied' THEN 1 ELSE 0 END) AS denied,
           sum(CASE WHEN decision_level = 'high' THEN 1 ELSE 0 END) AS high_risk,
           count(DISTINCT user_pool_id || '/' || username) AS users,
           count(DISTINCT source_ip) AS ips
    FROM sign_ins
    WHERE time >= $1 AND time < $2
    GROUP BY asn
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
SELECT p.asn, o.as_org, p.tries, p.failures, p.denied, p.high_risk, p.users, p.ips,
       round(CAST(p.failures AS DOUBLE) / p.tries, 3) AS failure_ratio,
       -- NULLIF: a period without failures has no shares (engines differ on x / 0).
       round(CAST(p.failures AS DOUBLE) / nullif(sum(p.failures) OVER (), 0), 3) AS failure_share
FROM per_asn p
LEFT JOIN orgs o ON o.asn = p.asn
ORDER BY p.failures DESC, p.tries DESC, p.asn
LIMIT $3
