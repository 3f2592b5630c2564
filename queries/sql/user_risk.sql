-- name: user_risk
-- description: Per user, over the day of sign_ins: failed tries, the distinct verified IPs they came
--   from, and attempts the trigger denied (counted apart: a denial is not a failed password). Many
--   failures on one account is brute force (Auth0 blocks an IP after 10 failures on one account);
--   failures from many IPs is a distributed attack on it.
SELECT user_pool_id, username,
       sum(CASE WHEN outcome = 'failure' THEN 1 ELSE 0 END) AS failures_1d,
       count(DISTINCT CASE WHEN outcome = 'failure' AND ip_verified THEN source_ip END) AS failure_ips_1d,
       sum(CASE WHEN outcome = 'denied' THEN 1 ELSE 0 END) AS blocked_1d
FROM sign_ins
GROUP BY user_pool_id, username
HAVING sum(CASE WHEN outcome IN ('failure', 'denied') THEN 1 ELSE 0 END) > 0
ORDER BY user_pool_id, username
