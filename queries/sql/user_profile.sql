-- name: user_profile
-- description: Per user, from the verified sign-ins that succeeded (see sign_ins): the countries, cities,
--   devices and UTC hours of the last N of them, how many there were, and the last one with its place
--   (for impossible travel). PostAuthentication events carry no IP, so a success takes its place from
--   the attempt it follows.
-- param: $1 last_n BIGINT  how many recent successful sign-ins define the known places and devices
WITH ranked AS (
    SELECT user_pool_id, username, time, geo_country, geo_city, device_key,
           geo_latitude, geo_longitude, geo_accuracy_radius_km,
           row_number() OVER (PARTITION BY user_pool_id, username ORDER BY time DESC, event_id) AS rn
    FROM sign_ins
    WHERE outcome = 'success' AND ip_verified
),
last_placed AS (
    SELECT user_pool_id, username, time, geo_latitude, geo_longitude, geo_accuracy_radius_km, geo_country
    FROM (
        SELECT *, row_number() OVER (PARTITION BY user_pool_id, username ORDER BY time DESC, rn) AS placed_rn
        FROM ranked
        WHERE geo_latitude IS NOT NULL AND geo_longitude IS NOT NULL
    ) p
    WHERE placed_rn = 1
),
seen AS (
    SELECT user_pool_id, username,
           array_agg(DISTINCT geo_country) FILTER (WHERE rn <= $1 AND geo_country IS NOT NULL) AS countries,
           array_agg(DISTINCT geo_city) FILTER (WHERE rn <= $1 AND geo_city IS NOT NULL) AS cities,
           array_agg(DISTINCT device_key) FILTER (WHERE rn <= $1 AND device_key IS NOT NULL) AS devices,
           array_agg(DISTINCT CAST(date_part('hour', time) AS INTEGER)) FILTER (WHERE rn <= $1) AS hours,
           count(*) AS logins
    FROM ranked
    GROUP BY user_pool_id, username
)
SELECT seen.user_pool_id, seen.username, seen.countries, seen.cities, seen.devices, seen.hours, seen.logins,
       l.time AS last_time, l.geo_latitude AS last_lat, l.geo_longitude AS last_lon,
       l.geo_accuracy_radius_km AS last_radius_km, l.geo_country AS last_country
FROM seen
LEFT JOIN last_placed l ON l.user_pool_id = seen.user_pool_id AND l.username = seen.username
ORDER BY seen.user_pool_id, seen.username
