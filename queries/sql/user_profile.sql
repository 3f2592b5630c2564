-- name: user_profile
-- description: Per user, from the verified sign-ins that succeeded (see sign_ins): the countries, cities,
--   devices and UTC hours of the last N of them, how many there were, and the last one with its place
--   (for impossible travel: not through a VPN, proxy or hosting network, which says nothing of where the
--   person was). PostAuthentication events carry no IP, so a success takes its place from the attempt it
--   follows.
-- param: $1 last_n BIGINT  how many recent successful sign-ins define the known places and devices
-- A sign-in sign_ins calls blocked (decided at or above the policy's deny level) is not learnt from:
-- audit mode let it through; enforce mode would not have.
WITH ranked AS (
    SELECT user_pool_id, username, time, geo_country, geo_city, device_key,
           geo_latitude, geo_longitude, geo_accuracy_radius_km, anon_any,
           row_number() OVER (PARTITION BY user_pool_id, username ORDER BY time DESC, event_id) AS rn
    FROM sign_ins
    WHERE outcome = 'success' AND ip_verified
      AND NOT blocked
),
last_placed AS (
    SELECT user_pool_id, username, time, geo_latitude, geo_longitude, geo_accuracy_radius_km, geo_country
    FROM (
        SELECT *, row_number() OVER (PARTITION BY user_pool_id, username ORDER BY time DESC, rn) AS placed_rn
        FROM ranked
        WHERE geo_latitude IS NOT NULL AND geo_longitude IS NOT NULL AND NOT coalesce(anon_any, false)
    ) p
    WHERE placed_rn = 1
),
-- array_distinct(array_agg(x)) rather than array_agg(DISTINCT x): DataFusion 55 keeps a hash set
-- per user for the latter, and the scorer's run spent more time creating them than aggregating.
seen AS (
    SELECT user_pool_id, username,
           array_distinct(array_agg(geo_country) FILTER (WHERE rn <= $1 AND geo_country IS NOT NULL)) AS countries,
           array_distinct(array_agg(geo_city) FILTER (WHERE rn <= $1 AND geo_city IS NOT NULL)) AS cities,
           array_distinct(array_agg(device_key) FILTER (WHERE rn <= $1 AND device_key IS NOT NULL)) AS devices,
           array_distinct(array_agg(CAST(date_part('hour', time) AS INTEGER)) FILTER (WHERE rn <= $1)) AS hours,
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
