-- Gas used per customer over the 30 days up to the business date, and the expected next order
-- (last delivery + the customer's mean interval between deliveries). Idempotent upsert.
INSERT INTO erp.customer_consumption (customer_id, as_of, deliveries_30d, kilograms_30d, last_delivery, next_expected)
SELECT d.customer_id,
       nightshift.business_date(),
       count(*),
       sum(d.quantity * p.size_kg),
       max(d.delivery_date),
       CASE WHEN count(*) > 1
            THEN max(d.delivery_date) + ((max(d.delivery_date) - min(d.delivery_date)) / (count(*) - 1))::int
       END
FROM erp.deliveries d
JOIN erp.products p ON p.id = d.product_id
WHERE d.delivery_date BETWEEN nightshift.business_date() - 29 AND nightshift.business_date()
  AND d.status = 'delivered'
GROUP BY d.customer_id
ON CONFLICT (customer_id) DO UPDATE
SET as_of = EXCLUDED.as_of, deliveries_30d = EXCLUDED.deliveries_30d, kilograms_30d = EXCLUDED.kilograms_30d,
    last_delivery = EXCLUDED.last_delivery, next_expected = EXCLUDED.next_expected
