-- Cylinders at customers per branch and size at the end of the business day, with the deposits
-- they hold. Incremental: yesterday's balance plus today's movements; when yesterday has no
-- snapshot (the first night, or after a gap) the balance is rebuilt from every earlier movement
-- and the balance carried forward from archived ones.
-- Idempotent: the day's rows are replaced in one transaction.
DELETE FROM erp.cylinder_inventory WHERE business_date = nightshift.business_date();

WITH day AS (
    SELECT d.branch_id, m.product_id,
           coalesce(sum(m.quantity) FILTER (WHERE m.direction = 'out'), 0) AS moved_out,
           coalesce(sum(m.quantity) FILTER (WHERE m.direction = 'in'), 0)  AS moved_in
    FROM erp.deliveries d
    JOIN erp.cylinder_movements m ON m.delivery_id = d.id
    WHERE d.delivery_date = nightshift.business_date()
    GROUP BY 1, 2
), previous AS (
    SELECT branch_id, product_id, at_customers
    FROM erp.cylinder_inventory
    WHERE business_date = nightshift.business_date() - 1
), rebuilt AS (
    SELECT branch_id, product_id, sum(at_customers) AS at_customers
    FROM (SELECT d.branch_id, m.product_id, CASE m.direction WHEN 'out' THEN m.quantity ELSE -m.quantity END AS at_customers
          FROM erp.deliveries d
          JOIN erp.cylinder_movements m ON m.delivery_id = d.id
          WHERE d.delivery_date < nightshift.business_date()
          UNION ALL
          -- what archived movements left behind
          SELECT branch_id, product_id, at_customers FROM erp.cylinder_opening_balance) AS every_movement
    WHERE NOT EXISTS (SELECT 1 FROM previous)
    GROUP BY 1, 2
), base AS (
    SELECT * FROM previous UNION ALL SELECT * FROM rebuilt
), keys AS (
    SELECT branch_id, product_id FROM base UNION SELECT branch_id, product_id FROM day
)
INSERT INTO erp.cylinder_inventory (business_date, branch_id, product_id, moved_out, moved_in, at_customers, deposits_held)
SELECT nightshift.business_date(), k.branch_id, k.product_id,
       coalesce(day.moved_out, 0), coalesce(day.moved_in, 0),
       coalesce(base.at_customers, 0) + coalesce(day.moved_out, 0) - coalesce(day.moved_in, 0),
       (coalesce(base.at_customers, 0) + coalesce(day.moved_out, 0) - coalesce(day.moved_in, 0)) * p.deposit
FROM keys k
JOIN erp.products p ON p.id = k.product_id
LEFT JOIN base USING (branch_id, product_id)
LEFT JOIN day USING (branch_id, product_id);
