-- Sales per branch and cylinder size for the business date.
-- Idempotent: the day's rows are rebuilt inside one transaction.
DELETE FROM erp.daily_sales_summary WHERE business_date = nightshift.business_date();

INSERT INTO erp.daily_sales_summary (business_date, branch_id, product_id, deliveries, cylinders, kilograms, revenue)
SELECT nightshift.business_date(), d.branch_id, d.product_id,
       count(*), sum(d.quantity), sum(d.quantity * p.size_kg), sum(d.amount)
FROM erp.deliveries d
JOIN erp.products p ON p.id = d.product_id
WHERE d.delivery_date = nightshift.business_date()
  AND d.status = 'delivered'
GROUP BY d.branch_id, d.product_id;
