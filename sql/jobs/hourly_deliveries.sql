-- Deliveries per branch and hour of the business day (Asia/Taipei time), for dispatch planning.
-- Idempotent: the day's rows are replaced in one transaction.
DELETE FROM erp.hourly_deliveries WHERE business_date = nightshift.business_date();

INSERT INTO erp.hourly_deliveries (business_date, hour, branch_id, deliveries, kilograms, revenue)
SELECT nightshift.business_date(),
       extract(hour FROM d.delivered_at AT TIME ZONE nightshift.time_zone())::smallint,
       d.branch_id, count(*), sum(d.quantity * p.size_kg), sum(d.amount)
FROM erp.deliveries d
JOIN erp.products p ON p.id = d.product_id
WHERE d.delivery_date = nightshift.business_date()
  AND d.status = 'delivered'
GROUP BY 2, 3;
