-- The day's delivery register, one line per delivery with its charges, for each branch's
-- legacy office tools (Big5). Large: read through a cursor, written as it arrives.
SELECT d.id                                                                    AS delivery_id,
       to_char(d.delivered_at AT TIME ZONE :time_zone, 'YYYY-MM-DD HH24:MI')   AS delivered_at,
       b.code                                                                  AS branch,
       c.name                                                                  AS customer,
       c.address                                                               AS address,
       p.name                                                                  AS product,
       d.quantity,
       d.amount,
       ch.vat,
       ch.deposit_due,
       d.status
FROM erp.deliveries d
JOIN erp.branches b ON b.id = d.branch_id
JOIN erp.customers c ON c.id = d.customer_id
JOIN erp.products p ON p.id = d.product_id
LEFT JOIN erp.delivery_charges ch ON ch.delivery_id = d.id
WHERE d.delivery_date = :business_date::date
ORDER BY d.id
