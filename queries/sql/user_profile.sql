-- name: user_profile
-- description: Per user, from the verified attempts that a success of the same user followed within the
--   success window: the countries, cities and devices seen, the number of such sign-ins, and the last one
--   with its place (for impossible travel). Post-authentication events carry no IP, so a success takes
--   its place from the attempt it follows.
-- param: $1 since TIMESTAMP  start of the history considered
-- param: $2 until TIMESTAMP  the scoring time (exclusive)
-- param: $3 success_window_us BIGINT  how long after an attempt its success may come
WITH attempts AS (
    SELECT user_pool_id, username, CAST(time AS BIGINT) AS t_us, geo_country, geo_city, device_key,
           geo_latitude, geo_longitude, geo_accuracy_radius_km
    FROM events
    WHERE event_type = 'auth.attempt' AND ip_verified AND time >= $1 AND time < $2
),
successes AS (
    SELECT user_pool_id, username, CAST(time AS BIGINT) AS t_us
    FROM events
    WHERE event_type = 'auth.success' AND time >= $1 AND time < $2
),
succeeded AS (
    SELECT DISTINCT a.*
    FROM attempts a
    JOIN successes s
      ON s.user_pool_id = a.user_pool_id AND s.username = a.username
     AND s.t_us >= a.t_us AND s.t_us <= a.t_us + $3
),
last_success AS (
    SELECT user_pool_id, username, t_us, geo_latitude, geo_longitude, geo_accuracy_radius_km, geo_country
    FROM (
        SELECT *, row_number() OVER (PARTITION BY user_pool_id, username ORDER BY t_us DESC) AS rn
        FROM succeeded
        WHERE geo_latitude IS NOT NULL AND geo_longitude IS NOT NULL
    ) ranked
    WHERE rn = 1
),
seen AS (
    SELECT user_pool_id, username,
           array_agg(DISTINCT geo_country) FILTER (WHERE geo_country IS NOT NULL) AS countries,
           array_agg(DISTINCT geo_city) FILTER (WHERE geo_city IS NOT NULL) AS cities,
           array_agg(DISTINCT device_key) FILTER (WHERE device_key IS NOT NULL) AS devices,
           count(*) AS logins
    FROM succeeded
    GROUP BY user_pool_id, username
)
SELECT seen.user_pool_id, seen.username, seen.countries, seen.cities, seen.devices, seen.logins,
       l.t_us AS last_us, l.geo_latitude AS last_lat, l.geo_longitude AS last_lon,
       l.geo_accuracy_radius_km AS last_radius_km, l.geo_country AS last_country
FROM seen
LEFT JOIN last_success l ON l.user_pool_id = seen.user_pool_id AND l.username = seen.username
ORDER BY seen.user_pool_id, seen.username
