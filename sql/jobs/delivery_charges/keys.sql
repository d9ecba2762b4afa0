-- The same deliveries as stage.sql, in the same order: each one's key and the record as JSON.
-- Used only to name a bad record, which is set aside for review (nightshift review list).
SELECT d.id AS key, to_jsonb(d) AS record
FROM erp.deliveries d
WHERE d.delivery_date = nightshift.business_date()
  AND d.status = 'delivered'
  AND d.id > nightshift.after_key()
ORDER BY d.id
LIMIT nightshift.chunk_size()
