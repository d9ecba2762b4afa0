-- The day's cylinder inventory (incremental) against a full recount of every movement up to the
-- business date (plus the balance carried forward from archived movements): any difference is a
-- cylinder the books lost or made up, for the branch to chase.
WITH recount AS (
    SELECT branch_id, product_id, sum(at_customers) AS at_customers
    FROM (SELECT d.branch_id, m.product_id, CASE m.direction WHEN 'out' THEN m.quantity ELSE -m.quantity END AS at_customers
          FROM erp.deliveries d
          JOIN erp.cylinder_movements m ON m.delivery_id = d.id
          WHERE d.delivery_date <= :business_date::date
          UNION ALL
          SELECT branch_id, product_id, at_customers FROM erp.cylinder_opening_balance) AS every_movement
    GROUP BY 1, 2
)
SELECT b.code AS branch, b.name AS branch_name, p.sku AS product,
       i.moved_out, i.moved_in, i.at_customers, coalesce(r.at_customers, 0) AS recounted,
       i.at_customers - coalesce(r.at_customers, 0) AS difference, i.deposits_held
FROM erp.cylinder_inventory i
JOIN erp.branches b ON b.id = i.branch_id
JOIN erp.products p ON p.id = i.product_id
LEFT JOIN recount r ON r.branch_id = i.branch_id AND r.product_id = i.product_id
WHERE i.business_date = :business_date::date
ORDER BY b.code, p.sku
