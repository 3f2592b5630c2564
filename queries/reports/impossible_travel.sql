-- name: impossible_travel
-- description: Pairs of consecutive successful sign-ins of one user, both in the period, between places
--   too far apart for the time between them: a shared or stolen account. Only sign-ins from a verified IP
--   that is located and not a VPN, proxy, hosting network or Tor (which say nothing of where the person
--   was). As in the trigger's rule, the distance is the great-circle distance less both places' accuracy
--   radii, and the time at least a minute. Newest first.
-- portability: date_part('epoch', t) is to_unixtime(t) on Trino/Athena
-- param: $1 since TIMESTAMP = -7d  start of the period
-- param: $2 until TIMESTAMP = now  end of the period (exclusive)
-- param: $3 max_speed_kmh DOUBLE = 1000  fastest plausible travel (an airliner is about 900 km/h)
-- param: $4 min_distance_km DOUBLE = 500  shortest distance worth reporting (IP location is coarse)
-- param: $5 limit BIGINT = 50  how many pairs
WITH placed AS (
    SELECT event_id, user_pool_id, username, time, source_ip, geo_country, geo_city,
           geo_latitude, geo_longitude, coalesce(geo_accuracy_radius_km, 0) AS radius_km
    FROM sign_ins
    WHERE time >= $1 AND time < $2
      AND outcome = 'success' AND ip_verified
      AND geo_latitude IS NOT NULL AND geo_longitude IS NOT NULL AND NOT coalesce(anon_any, false)
),
paired AS (
    SELECT p.*,
           lag(time) OVER (PARTITION BY user_pool_id, username ORDER BY time, event_id) AS prev_time,
           lag(source_ip) OVER (PARTITION BY user_pool_id, username ORDER BY time, event_id) AS prev_ip,
           lag(geo_country) OVER (PARTITION BY user_pool_id, username ORDER BY time, event_id) AS prev_country,
           lag(geo_city) OVER (PARTITION BY user_pool_id, username ORDER BY time, event_id) AS prev_city,
           lag(geo_latitude) OVER (PARTITION BY user_pool_id, username ORDER BY time, event_id) AS prev_lat,
           lag(geo_longitude) OVER (PARTITION BY user_pool_id, username ORDER BY time, event_id) AS prev_lon,
           lag(radius_km) OVER (PARTITION BY user_pool_id, username ORDER BY time, event_id) AS prev_radius_km
    FROM placed p
),
legs AS (
    SELECT user_pool_id, username, prev_time, time, prev_ip, source_ip, prev_country, geo_country,
           prev_city, geo_city, radius_km + prev_radius_km AS radii_km,
           -- haversine: the squared half-chord between the two places on a unit sphere
           power(sin(radians(geo_latitude - prev_lat) / 2), 2)
               + cos(radians(prev_lat)) * cos(radians(geo_latitude))
                 * power(sin(radians(geo_longitude - prev_lon) / 2), 2) AS hav,
           CAST(date_part('epoch', time) AS DOUBLE) - CAST(date_part('epoch', prev_time) AS DOUBLE) AS seconds
    FROM paired
    WHERE prev_time IS NOT NULL
),
measured AS (
    SELECT user_pool_id, username, prev_time, time, prev_ip, source_ip, prev_country, geo_country,
           prev_city, geo_city,
           -- clamped: rounding can push hav past 1, where asin is undefined
           2 * 6371 * asin(sqrt(CASE WHEN hav > 1 THEN 1 WHEN hav < 0 THEN 0 ELSE hav END)) - radii_km AS km,
           CASE WHEN seconds < 60 THEN 60 ELSE seconds END / 3600 AS hours
    FROM legs
)
SELECT user_pool_id, username,
       prev_time AS from_time, time AS to_time,
       prev_ip AS from_ip, source_ip AS to_ip,
       prev_country AS from_country, prev_city AS from_city,
       geo_country AS to_country, geo_city AS to_city,
       round(km, 0) AS distance_km, round(hours, 2) AS hours, round(km / hours, 0) AS speed_kmh
FROM measured
WHERE km > $4 AND km / hours > $3
ORDER BY to_time DESC, user_pool_id, username
LIMIT $5
