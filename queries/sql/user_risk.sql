-- name: user_risk
-- description: Per user, over the day of sign_ins: failed tries, the distinct verified IPs they came
--   from, and attempts the trigger denied (counted apart: a denial is not a failed password). Many
--   failures on one account is brute force (Auth0 blocks an IP after 10 failures on one account);
--   failures from many IPs is a distributed attack on it.
-- Counted per IP first: count(DISTINCT) of text keeps a hash set per user in DataFusion 55.
WITH per_ip AS (
    SELECT user_pool_id, username, source_ip, ip_verified,
           sum(CASE WHEN outcome = 'failure' THEN 1 ELSE 0 END) AS failures,
           sum(CASE WHEN outcome = 'denied' THEN 1 ELSE 0 END) AS blocked
    FROM sign_ins
    GROUP BY user_pool_id, username, source_ip, ip_verified
)
SELECT user_pool_id, username,
       sum(failures) AS failures_1d,
       sum(CASE WHEN failures > 0 AND ip_verified AND source_ip IS NOT NULL THEN 1 ELSE 0 END) AS failure_ips_1d,
       sum(blocked) AS blocked_1d
FROM per_ip
GROUP BY user_pool_id, username
HAVING sum(failures) + sum(blocked) > 0
ORDER BY user_pool_id, username
