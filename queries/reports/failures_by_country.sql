-- name: failures_by_country
-- description: Per country of the source IP (NULL: not located), the period's sign-in tries and how many
--   failed, were denied or were decided at high risk, from how many users and IPs. failure_ratio is the
--   share of the country's tries that failed; failure_share is the country's share of all failures.
--   Countries with the most failures first.
-- param: $1 since TIMESTAMP = -7d  start of the period
-- param: $2 until TIMESTAMP = now  end of the period (exclusive)
-- param: $3 limit BIGINT = 20  how many countries
WITH per_country AS (
    SELECT geo_country AS country,
           count(*) AS tries,
           sum(CASE WHEN outcome = 'failure' THEN 1 ELSE 0 END) AS failures,
           sum(CASE WHEN outcome = 'denied' THEN 1 ELSE 0 END) AS denied,
           sum(CASE WHEN decision_level = 'high' THEN 1 ELSE 0 END) AS high_risk,
           -- sign_ins' blocked: what enforce mode at the policy's deny level blocks (audit mode denies nothing).
           sum(CASE WHEN blocked THEN 1 ELSE 0 END) AS blocked,
           count(DISTINCT user_pool_id || '/' || username) AS users,
           count(DISTINCT source_ip) AS ips
    FROM sign_ins
    WHERE time >= $1 AND time < $2
    GROUP BY geo_country
)
SELECT country, tries, failures, denied, high_risk, blocked, users, ips,
       round(CAST(failures AS DOUBLE) / tries, 3) AS failure_ratio,
       -- NULLIF: a period without failures has no shares (engines differ on x / 0).
       round(CAST(failures AS DOUBLE) / nullif(sum(failures) OVER (), 0), 3) AS failure_share
FROM per_country
ORDER BY failures DESC, tries DESC, country
LIMIT $3
