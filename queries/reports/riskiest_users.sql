-- name: riskiest_users
-- description: The users the latest scoring run rated riskiest (user_risk), riskiest first, with the
--   reasons for their score, how often they signed in, the countries and how many devices they are
--   known from, and their last successful sign-in.
-- portability: array_to_string is array_join on Trino/Athena
-- param: $1 min_risk BIGINT = 1  lowest risk shown (0-100)
-- param: $2 limit BIGINT = 20  how many users
SELECT user_pool_id, username, risk,
       array_to_string(reasons, ', ') AS reasons,
       login_count,
       array_to_string(known_countries, ', ') AS known_countries,
       known_devices, last_success_time, last_success_country, scored_at, snapshot_version
FROM user_risk
WHERE risk >= $1
ORDER BY risk DESC, user_pool_id, username
LIMIT $2
