-- The month's sales per branch and size. Incremental: days the daily aggregation already summed
-- are taken from erp.daily_sales_summary; days it has not (yet) are summed from the deliveries.
-- Idempotent: the month's rows are replaced in one transaction.
DELETE FROM erp.monthly_sales WHERE month = date_trunc('month', nightshift.business_date())::date;

WITH period AS (
    SELECT date_trunc('month', nightshift.business_date())::date AS first_day,
           (date_trunc('month', nightshift.business_date()) + interval '1 month - 1 day')::date AS last_day
), summarised AS (
    SELECT s.branch_id, s.product_id, s.deliveries, s.cylinders, s.kilograms::bigint AS kilograms, s.revenue
    FROM erp.daily_sales_summary s, period
    WHERE s.business_date BETWEEN period.first_day AND period.last_day
), missing AS (
    SELECT d.branch_id, d.product_id, count(*)::int AS deliveries, sum(d.quantity)::int AS cylinders,
           sum(d.quantity * p.size_kg)::bigint AS kilograms, sum(d.amount) AS revenue
    FROM erp.deliveries d
    JOIN erp.products p ON p.id = d.product_id
    CROSS JOIN period
    WHERE d.delivery_date BETWEEN period.first_day AND period.last_day
      AND d.status = 'delivered'
      AND NOT EXISTS (SELECT 1 FROM erp.daily_sales_summary s WHERE s.business_date = d.delivery_date)
    GROUP BY 1, 2
)
INSERT INTO erp.monthly_sales (month, branch_id, product_id, deliveries, cylinders, kilograms, revenue)
SELECT (SELECT first_day FROM period), branch_id, product_id, sum(deliveries), sum(cylinders), sum(kilograms), sum(revenue)
FROM (SELECT * FROM summarised UNION ALL SELECT * FROM missing) AS days
GROUP BY branch_id, product_id;
