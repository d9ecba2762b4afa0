-- The week's figures per branch and the change against the week before.
SELECT b.code AS branch, b.name AS branch_name, t.week_start, t.deliveries, t.kilograms, t.revenue,
       t.revenue_prev, t.change_percent
FROM erp.weekly_trends t
JOIN erp.branches b ON b.id = t.branch_id
WHERE t.week_start = :business_date::date - 6
ORDER BY b.code
