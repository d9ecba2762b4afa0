-- What each customer owes at the end of the month, by the age of the unpaid invoices (current
-- 0-30 days, 31-60, 61-90, over 90). Idempotent: the date's rows are replaced in one transaction.
DELETE FROM erp.receivables_aging WHERE as_of = nightshift.business_date();

WITH open AS (
    SELECT i.customer_id, nightshift.business_date() - i.issued_on AS age,
           i.amount - coalesce((SELECT sum(p.amount) FROM erp.payments p
                                WHERE p.delivery_id = i.delivery_id
                                  AND p.paid_at < (nightshift.business_date() + 1)::timestamp AT TIME ZONE nightshift.time_zone()), 0) AS due
    FROM erp.invoices i
    WHERE i.issued_on <= nightshift.business_date()
)
INSERT INTO erp.receivables_aging (as_of, customer_id, current_due, days_31_60, days_61_90, over_90, total)
SELECT nightshift.business_date(), customer_id,
       coalesce(sum(due) FILTER (WHERE age <= 30), 0),
       coalesce(sum(due) FILTER (WHERE age BETWEEN 31 AND 60), 0),
       coalesce(sum(due) FILTER (WHERE age BETWEEN 61 AND 90), 0),
       coalesce(sum(due) FILTER (WHERE age > 90), 0),
       sum(due)
FROM open
WHERE due <> 0
GROUP BY customer_id;
