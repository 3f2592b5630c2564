-- name: riskiest_networks
-- description: The networks (autonomous systems) the latest scoring run rated riskiest (asn_risk),
--   riskiest first, with the reasons for their score: a botnet that rotates IPs shows here rather
--   than in riskiest_ips.
-- portability: array_to_string is array_join on Trino/Athena
-- param: $1 min_score BIGINT = 1  lowest score shown (0-100)
-- param: $2 limit BIGINT = 20  how many networks
SELECT asn, score, array_to_string(reasons, ', ') AS reasons, scored_at, snapshot_version
FROM asn_risk
WHERE score >= $1
ORDER BY score DESC, asn
LIMIT $2
