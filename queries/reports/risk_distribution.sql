-- name: risk_distribution
-- description: How the latest scoring run's scores spread: users (user_risk) and IPs (ip_risk) in bands
--   of ten points, 0-9 to 90-100, every band listed even when empty. Scores below min_score are left out
--   (most users score 0). A band that fills up after a policy change is where new blocks come from.
-- param: $1 min_score BIGINT = 1  lowest score counted (0-100)
WITH scores AS (
    SELECT 'user' AS kind, risk AS score FROM user_risk WHERE risk >= $1
    UNION ALL
    SELECT 'ip' AS kind, score FROM ip_risk WHERE score >= $1
),
banded AS (
    -- floor over a DOUBLE: integer division is float division on DuckDB.
    SELECT kind, CASE WHEN score >= 90 THEN 9 ELSE CAST(floor(CAST(score AS DOUBLE) / 10) AS BIGINT) END AS band
    FROM scores
)
SELECT b.score_range,
       sum(CASE WHEN s.kind = 'user' THEN 1 ELSE 0 END) AS users,
       sum(CASE WHEN s.kind = 'ip' THEN 1 ELSE 0 END) AS ips
FROM (VALUES (0, '0-9'), (1, '10-19'), (2, '20-29'), (3, '30-39'), (4, '40-49'),
             (5, '50-59'), (6, '60-69'), (7, '70-79'), (8, '80-89'), (9, '90-100')) AS b(band, score_range)
LEFT JOIN banded s ON s.band = b.band
GROUP BY b.band, b.score_range
ORDER BY b.band
