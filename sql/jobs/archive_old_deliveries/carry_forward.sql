-- The chunk's cylinder movements leave the database: fold them into the opening balance first,
-- so a full recount (opening balance + remaining movements) still finds every cylinder.
-- archive_keys(key) holds the ids of the chunk's deliveries.
INSERT INTO erp.cylinder_opening_balance (branch_id, product_id, at_customers, through_date)
SELECT d.branch_id, m.product_id, sum(CASE m.direction WHEN 'out' THEN m.quantity ELSE -m.quantity END), max(d.delivery_date) + 1
FROM archive_keys k
JOIN erp.deliveries d ON d.id = k.key
JOIN erp.cylinder_movements m ON m.delivery_id = d.id
GROUP BY 1, 2
ON CONFLICT (branch_id, product_id) DO UPDATE
SET at_customers = erp.cylinder_opening_balance.at_customers + EXCLUDED.at_customers,
    through_date = greatest(erp.cylinder_opening_balance.through_date, EXCLUDED.through_date);
