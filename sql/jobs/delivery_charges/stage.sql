-- The next chunk of the day's delivered deliveries after the checkpointed key:
-- VAT (prices include 5%), net, cylinder deposit due on cylinders not returned, driver commission
-- of NT$1.5 per kg delivered.
INSERT INTO {{staging}} (delivery_id, gross, vat, net, deposit_due, driver_commission)
SELECT d.id,
       d.amount,
       round(d.amount * 5 / 105, 0),
       d.amount - round(d.amount * 5 / 105, 0),
       p.deposit * coalesce((SELECT sum(CASE m.direction WHEN 'out' THEN m.quantity ELSE -m.quantity END)
                             FROM erp.cylinder_movements m WHERE m.delivery_id = d.id), 0),
       round(d.quantity * p.size_kg * 1.5, 2)
FROM erp.deliveries d
JOIN erp.products p ON p.id = d.product_id
WHERE d.delivery_date = nightshift.business_date()
  AND d.status = 'delivered'
  AND d.id > nightshift.after_key()
ORDER BY d.id
LIMIT nightshift.chunk_size()
