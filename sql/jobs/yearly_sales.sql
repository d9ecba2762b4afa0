-- The year's sales per branch and size. Incremental: months the monthly batch already summed are
-- taken from erp.monthly_sales; the others (December, whose monthly batch runs after year-end)
-- from the deliveries. Idempotent: the year's rows are replaced in one transaction.
DELETE FROM erp.yearly_sales WHERE year = extract(year FROM nightshift.business_date())::int;

WITH period AS (
    SELECT date_trunc('year', nightshift.business_date())::date AS first_day, nightshift.business_date() AS last_day
), summarised AS (
    SELECT m.branch_id, m.product_id, m.deliveries, m.cylinders, m.kilograms, m.revenue
    FROM erp.monthly_sales m, period
    WHERE m.month BETWEEN period.first_day AND period.last_day
), missing AS (
    SELECT d.branch_id, d.product_id, count(*)::int AS deliveries, sum(d.quantity)::int AS cylinders,
           sum(d.quantity * p.size_kg)::bigint AS kilograms, sum(d.amount) AS revenue
    FROM erp.deliveries d
    JOIN erp.products p ON p.id = d.product_id
    CROSS JOIN period
    WHERE d.delivery_date BETWEEN period.first_day AND period.last_day
      AND d.status = 'delivered'
      AND NOT EXISTS (SELECT 1 FROM erp.monthly_sales m WHERE m.month = date_trunc('month', d.delivery_date)::date)
    GROUP BY 1, 2
)
INSERT INTO erp.yearly_sales (year, branch_id, product_id, deliveries, cylinders, kilograms, revenue)
SELECT extract(year FROM nightshift.business_date())::int, branch_id, product_id,
       sum(deliveries), sum(cylinders), sum(kilograms), sum(revenue)
FROM (SELECT * FROM summarised UNION ALL SELECT * FROM missing) AS months
GROUP BY branch_id, product_id;
