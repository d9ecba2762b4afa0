-- The reverse of carry_forward.sql, when `nightshift archive restore` puts deliveries back into
-- erp.deliveries: their cylinder movements are counted again, so they leave the opening balance.
-- archive_keys(key) holds the ids of the restored deliveries.
UPDATE erp.cylinder_opening_balance b
SET at_customers = b.at_customers - r.at_customers
FROM (SELECT d.branch_id, m.product_id, sum(CASE m.direction WHEN 'out' THEN m.quantity ELSE -m.quantity END) AS at_customers
      FROM archive_keys k
      JOIN erp.deliveries d ON d.id = k.key
      JOIN erp.cylinder_movements m ON m.delivery_id = d.id
      GROUP BY 1, 2) AS r
WHERE b.branch_id = r.branch_id AND b.product_id = r.product_id;
