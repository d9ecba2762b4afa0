-- The seven days ending on the business date (the weekly batch fires early on Sunday: the week up
-- to Saturday) per branch, against the seven days before. Read from the deliveries: the daily
-- summary of the last day may not exist yet when the weekly batch fires. Idempotent: the week's rows are replaced in one transaction.
DELETE FROM erp.weekly_trends WHERE week_start = nightshift.business_date() - 6;

WITH weeks AS (
    SELECT d.branch_id,
           (d.delivery_date > nightshift.business_date() - 7) AS this_week,
           count(*) AS deliveries, sum(d.quantity * p.size_kg) AS kilograms, sum(d.amount) AS revenue
    FROM erp.deliveries d
    JOIN erp.products p ON p.id = d.product_id
    WHERE d.delivery_date BETWEEN nightshift.business_date() - 13 AND nightshift.business_date()
      AND d.status = 'delivered'
    GROUP BY 1, 2
)
INSERT INTO erp.weekly_trends (week_start, branch_id, deliveries, kilograms, revenue, revenue_prev, change_percent)
SELECT nightshift.business_date() - 6, t.branch_id, t.deliveries, t.kilograms, t.revenue, p.revenue,
       CASE WHEN p.revenue > 0 THEN round((t.revenue - p.revenue) * 100 / p.revenue, 2) END
FROM weeks t
LEFT JOIN weeks p ON p.branch_id = t.branch_id AND NOT p.this_week
WHERE t.this_week;
