-- name: source_risk
-- description: Per source IP and per network (ASN), over the last 15 minutes, hour and day of sign_ins:
--   tries, distinct users, failed tries, users with one or two tries each (light: credential stuffing
--   tries each leaked pair once; Elastic's rule is 15 such users from one IP in 15 minutes) and users
--   with three or more (heavy: password spraying and brute force). A botnet spreads over many IPs but
--   often few networks, so networks are counted alike. The scorer turns the counts into scores.
-- param: $1 since_15m TIMESTAMP  start of the 15-minute window
-- param: $2 since_1h TIMESTAMP  start of the one-hour window
WITH flagged AS (
    SELECT source_ip, asn, user_pool_id, username,
           CASE WHEN time >= $1 THEN 1 ELSE 0 END AS in_15m,
           CASE WHEN time >= $2 THEN 1 ELSE 0 END AS in_1h,
           CASE WHEN outcome = 'failure' THEN 1 ELSE 0 END AS failed
    FROM sign_ins
    WHERE ip_verified AND outcome IN ('success', 'failure')
),
sources AS (
    SELECT 'ip' AS kind, source_ip AS source, user_pool_id, username, in_15m, in_1h, failed
    FROM flagged WHERE source_ip IS NOT NULL
    UNION ALL
    SELECT 'asn' AS kind, CAST(asn AS VARCHAR) AS source, user_pool_id, username, in_15m, in_1h, failed
    FROM flagged WHERE asn IS NOT NULL
),
per_user AS (
    SELECT kind, source, user_pool_id, username,
           sum(in_15m) AS tries_15m, sum(in_15m * failed) AS failures_15m,
           sum(in_1h) AS tries_1h, sum(in_1h * failed) AS failures_1h,
           count(*) AS tries_1d, sum(failed) AS failures_1d
    FROM sources
    GROUP BY kind, source, user_pool_id, username
)
SELECT kind, source,
       sum(tries_15m) AS tries_15m, sum(CASE WHEN tries_15m > 0 THEN 1 ELSE 0 END) AS users_15m,
       sum(failures_15m) AS failures_15m,
       sum(CASE WHEN tries_15m BETWEEN 1 AND 2 THEN 1 ELSE 0 END) AS light_users_15m,
       sum(CASE WHEN tries_15m >= 3 THEN 1 ELSE 0 END) AS heavy_users_15m,
       sum(tries_1h) AS tries_1h, sum(CASE WHEN tries_1h > 0 THEN 1 ELSE 0 END) AS users_1h,
       sum(failures_1h) AS failures_1h,
       sum(CASE WHEN tries_1h BETWEEN 1 AND 2 THEN 1 ELSE 0 END) AS light_users_1h,
       sum(CASE WHEN tries_1h >= 3 THEN 1 ELSE 0 END) AS heavy_users_1h,
       sum(tries_1d) AS tries_1d, count(*) AS users_1d,
       sum(failures_1d) AS failures_1d,
       sum(CASE WHEN tries_1d <= 2 THEN 1 ELSE 0 END) AS light_users_1d,
       sum(CASE WHEN tries_1d >= 3 THEN 1 ELSE 0 END) AS heavy_users_1d
FROM per_user
GROUP BY kind, source
ORDER BY kind, source
