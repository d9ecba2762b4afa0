-- The month-end close (P1): the month's deliveries, revenue and VAT against the uniform invoices
-- issued and the payments collected, and what customers still owe. A month whose invoices do
-- not match its deliveries stops here: the revenue report and the tax file are not made from it.
-- Idempotent: the month's row is replaced in one transaction.
DELETE FROM erp.monthly_close WHERE month = date_trunc('month', nightshift.business_date())::date;

WITH period AS (
    SELECT date_trunc('month', nightshift.business_date())::date AS first_day, nightshift.business_date() AS last_day
), sales AS (
    SELECT coalesce(sum(deliveries), 0) AS deliveries, coalesce(sum(revenue), 0) AS revenue
    FROM erp.monthly_sales, period WHERE month = period.first_day
), invoiced AS (
    SELECT coalesce(sum(i.amount), 0) AS amount, coalesce(sum(i.tax), 0) AS tax, count(*) AS invoices
    FROM erp.invoices i, period WHERE i.issued_on BETWEEN period.first_day AND period.last_day
), collected AS (
    SELECT coalesce(sum(p.amount), 0) AS amount
    FROM erp.payments p, period
    WHERE p.paid_at >= period.first_day::timestamp AT TIME ZONE nightshift.time_zone()
      AND p.paid_at < (period.last_day + 1)::timestamp AT TIME ZONE nightshift.time_zone()
), owed AS (
    SELECT coalesce(sum(total), 0) AS total FROM erp.receivables_aging WHERE as_of = nightshift.business_date()
)
INSERT INTO erp.monthly_close (month, deliveries, revenue, vat, invoiced, invoice_tax, collected, receivables, closed_at)
SELECT period.first_day, sales.deliveries, sales.revenue, round(sales.revenue * 5 / 105, 0), invoiced.amount, invoiced.tax,
       collected.amount, owed.total, clock_timestamp()
FROM period, sales, invoiced, collected, owed
WHERE erp.close_check(sales.revenue = invoiced.amount AND sales.deliveries = invoiced.invoices,
                      format('the month''s deliveries (%s, NT$%s) do not match its uniform invoices (%s, NT$%s)',
                             sales.deliveries, sales.revenue, invoiced.invoices, invoiced.amount));
