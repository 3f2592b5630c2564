-- name: new_devices_and_countries
-- description: Per user, the devices and countries that first signed in successfully in the period: no
--   successful sign-in of that user from that device or country in the lookback before the period. One
--   row per user, kind ('device' or 'country') and value, with the first such sign-in's time, IP, country
--   and device (type, OS, browser); known_values is how many of that kind the user had in the lookback
--   (0: no history, a new or returning user rather than a new device). Only sign-ins from a verified IP.
--   Newest first.
-- portability: date_part('epoch', t) is to_unixtime(t) on Trino/Athena
-- param: $1 since TIMESTAMP = -7d  start of the period
-- param: $2 until TIMESTAMP = now  end of the period (exclusive)
-- param: $3 lookback INTERVAL = 90d  how far before the period a device or country counts as known
-- param: $4 limit BIGINT = 100  how many rows
WITH period AS (
    SELECT user_pool_id, username, time, event_id, source_ip, geo_country, device_key
    FROM sign_ins
    WHERE time >= $1 AND time < $2 AND outcome = 'success' AND ip_verified
),
-- sign_ins covers the period only: the lookback is read from events. Copies of an event are not
-- removed here (a window over every event of the lookback): copies sort next to each other, so the
-- last copy of an attempt is the one its success follows, and DISTINCT below counts it once.
earlier AS (
    SELECT event_id, event_type, time, user_pool_id, username, ip_verified, geo_country, device_key,
           decision_action
    FROM events
    WHERE time + CAST($3 AS INTERVAL) >= $1 AND time < $1
      AND dt >= CAST(CAST($1 - CAST($3 AS INTERVAL) AS DATE) AS VARCHAR)
      AND dt <= CAST(CAST($1 AS DATE) AS VARCHAR)
      AND event_type IN ('auth.attempt', 'auth.success')
),
ordered AS (
    SELECT *,
           lead(event_type) OVER (PARTITION BY user_pool_id, username ORDER BY time, event_type, event_id) AS next_type,
           lead(time) OVER (PARTITION BY user_pool_id, username ORDER BY time, event_type, event_id) AS next_time
    FROM earlier
),
-- A successful sign-in: an attempt the trigger allowed that the user's next event confirms as a
-- success within 5 minutes (sign_ins' usual success window).
history AS (
    SELECT user_pool_id, username, geo_country, device_key
    FROM ordered
    WHERE event_type = 'auth.attempt' AND next_type = 'auth.success' AND ip_verified
      AND coalesce(decision_action, 'allow') <> 'deny'
      AND CAST(date_part('epoch', next_time) AS DOUBLE) - CAST(date_part('epoch', time) AS DOUBLE) <= 300
),
known AS (
    SELECT DISTINCT user_pool_id, username, 'device' AS kind, device_key AS value
    FROM history WHERE device_key IS NOT NULL
    UNION ALL
    SELECT DISTINCT user_pool_id, username, 'country' AS kind, geo_country AS value
    FROM history WHERE geo_country IS NOT NULL
),
known_counts AS (
    SELECT user_pool_id, username, kind, count(*) AS known_values
    FROM known
    GROUP BY user_pool_id, username, kind
),
seen AS (
    SELECT user_pool_id, username, 'device' AS kind, device_key AS value, time, event_id, source_ip, geo_country
    FROM period WHERE device_key IS NOT NULL
    UNION ALL
    SELECT user_pool_id, username, 'country' AS kind, geo_country AS value, time, event_id, source_ip, geo_country
    FROM period WHERE geo_country IS NOT NULL
),
-- sign_ins has no device details: copies of an event share them, so any copy's will do.
devices AS (
    SELECT event_id, max(device_type) AS device_type, max(device_os) AS device_os,
           max(device_browser) AS device_browser
    FROM events
    WHERE time >= $1 AND time < $2
      AND dt >= CAST(CAST($1 AS DATE) AS VARCHAR)
      -- until is exclusive: its date's files only when it is past that midnight
      AND (dt < CAST(CAST($2 AS DATE) AS VARCHAR)
           OR (dt = CAST(CAST($2 AS DATE) AS VARCHAR) AND CAST(CAST($2 AS DATE) AS TIMESTAMP) < $2))
      AND event_type = 'auth.attempt'
    GROUP BY event_id
),
firsts AS (
    SELECT *,
           row_number() OVER (PARTITION BY user_pool_id, username, kind, value ORDER BY time, event_id) AS rn
    FROM seen
)
SELECT f.user_pool_id, f.username, f.kind, f.value, f.time AS first_seen, f.source_ip, f.geo_country AS country,
       coalesce(c.known_values, 0) AS known_values, d.device_type, d.device_os, d.device_browser
FROM firsts f
LEFT JOIN known k
       ON k.user_pool_id = f.user_pool_id AND k.username = f.username AND k.kind = f.kind AND k.value = f.value
LEFT JOIN known_counts c
       ON c.user_pool_id = f.user_pool_id AND c.username = f.username AND c.kind = f.kind
LEFT JOIN devices d ON d.event_id = f.event_id
WHERE f.rn = 1 AND k.value IS NULL
ORDER BY f.time DESC, f.user_pool_id, f.username, f.kind, f.value
LIMIT $4
