-- name: sign_ins_over_time
-- description: Sign-in tries per hour or per day of the period with how they ended (see sign_ins:
--   success, failure, denied by the trigger; a pending try counts as a try only), how many the trigger
--   decided at high risk, and how many distinct users and IPs tried. A failure spike from many IPs and
--   users is a distributed attack; one from few IPs is stuffing, spraying or brute force (see the
--   *_candidates reports). Buckets without tries have no row.
-- param: $1 since TIMESTAMP = -24h  start of the period
-- param: $2 until TIMESTAMP = now  end of the period (exclusive)
-- param: $3 bucket TEXT[hour|day] = hour  the length of a bucket
WITH bucketed AS (
    -- The unit is chosen by CASE: a placeholder as date_trunc's unit does not plan everywhere.
    SELECT CASE WHEN $3 = 'day' THEN date_trunc('day', time) ELSE date_trunc('hour', time) END AS bucket,
           outcome, blocked, decision_level, user_pool_id, username, source_ip
    FROM sign_ins
    WHERE time >= $1 AND time < $2
)
SELECT bucket,
       count(*) AS tries,
       sum(CASE WHEN outcome = 'success' THEN 1 ELSE 0 END) AS successes,
       sum(CASE WHEN outcome = 'failure' THEN 1 ELSE 0 END) AS failures,
       sum(CASE WHEN outcome = 'denied' THEN 1 ELSE 0 END) AS denied,
       sum(CASE WHEN decision_level = 'high' THEN 1 ELSE 0 END) AS high_risk,
       -- sign_ins' blocked: what enforce mode at the policy's deny level blocks (audit mode denies nothing).
       sum(CASE WHEN blocked THEN 1 ELSE 0 END) AS blocked,
       -- A username is unique within its pool only.
       count(DISTINCT user_pool_id || '/' || username) AS users,
       count(DISTINCT source_ip) AS ips
FROM bucketed
GROUP BY bucket
ORDER BY bucket
