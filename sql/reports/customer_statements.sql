-- Each customer's statement for the month: invoices issued, payments received, and the balance
-- by age at month end. One line per customer that had activity or owes something.
WITH period AS (
    SELECT date_trunc('month', :business_date::date)::date AS first_day, :business_date::date AS last_day
), invoiced AS (
    SELECT i.customer_id, count(*) AS invoices, sum(i.amount) AS amount
    FROM erp.invoices i, period WHERE i.issued_on BETWEEN period.first_day AND period.last_day
    GROUP BY 1
), paid AS (
    SELECT p.customer_id, sum(p.amount) AS amount
    FROM erp.payments p, period
    WHERE p.paid_at >= period.first_day::timestamp AT TIME ZONE :time_zone
      AND p.paid_at < (period.last_day + 1)::timestamp AT TIME ZONE :time_zone
    GROUP BY 1
)
SELECT c.id AS customer_id, b.code AS branch, c.name AS customer, c.address,
       coalesce(i.invoices, 0) AS invoices, coalesce(i.amount, 0) AS invoiced, coalesce(p.amount, 0) AS paid,
       coalesce(a.current_due, 0) AS current_due, coalesce(a.days_31_60, 0) AS days_31_60,
       coalesce(a.days_61_90, 0) AS days_61_90, coalesce(a.over_90, 0) AS over_90, coalesce(a.total, 0) AS balance
FROM erp.customers c
JOIN erp.branches b ON b.id = c.branch_id
LEFT JOIN invoiced i ON i.customer_id = c.id
LEFT JOIN paid p ON p.customer_id = c.id
LEFT JOIN erp.receivables_aging a ON a.customer_id = c.id AND a.as_of = :business_date::date
WHERE i.customer_id IS NOT NULL OR p.customer_id IS NOT NULL OR a.customer_id IS NOT NULL
ORDER BY c.id
