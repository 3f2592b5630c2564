-- name: riskiest_ips
-- description: The source IPs the latest scoring run rated riskiest (ip_risk), riskiest first, with the
--   reasons for their score (e.g. many users tried once each: credential stuffing).
-- portability: array_to_string is array_join on Trino/Athena
-- param: $1 min_score BIGINT = 1  lowest score shown (0-100)
-- param: $2 limit BIGINT = 20  how many IPs
SELECT ip, score, array_to_string(reasons, ', ') AS reasons, scored_at, snapshot_version
FROM ip_risk
WHERE score >= $1
ORDER BY score DESC, ip
LIMIT $2
