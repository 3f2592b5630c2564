-- name: asn_risk
-- description: Per autonomous system over the window, the counts ip_risk makes per IP: attempts, distinct
--   users, failed attempts and users with at most two attempts each. A botnet spreads over many IPs but
--   often few networks; the scorer applies the IP thresholds to the network.
-- param: $1 since TIMESTAMP  start of the window
-- param: $2 until TIMESTAMP  the scoring time (exclusive)
-- param: $3 success_window_us BIGINT  how long after an attempt its success may come
WITH attempts AS (
    SELECT event_id, asn, user_pool_id, username, CAST(time AS BIGINT) AS t_us
    FROM events
    WHERE event_type = 'auth.attempt' AND asn IS NOT NULL AND time >= $1 AND time < $2
),
successes AS (
    SELECT user_pool_id, username, CAST(time AS BIGINT) AS t_us
    FROM events
    WHERE event_type = 'auth.success' AND time >= $1 AND time < $2
),
succeeded AS (
    SELECT DISTINCT a.event_id
    FROM attempts a
    JOIN successes s
      ON s.user_pool_id = a.user_pool_id AND s.username = a.username
     AND s.t_us >= a.t_us AND s.t_us <= a.t_us + $3
),
per_user AS (
    SELECT a.asn, a.user_pool_id, a.username, count(*) AS attempts,
           sum(CASE WHEN s.event_id IS NULL THEN 1 ELSE 0 END) AS failures
    FROM attempts a
    LEFT JOIN succeeded s ON s.event_id = a.event_id
    GROUP BY a.asn, a.user_pool_id, a.username
)
SELECT asn,
       sum(attempts) AS attempts,
       count(*) AS users,
       sum(failures) AS failures,
       sum(CASE WHEN attempts <= 2 THEN 1 ELSE 0 END) AS light_users
FROM per_user
GROUP BY asn
ORDER BY asn
