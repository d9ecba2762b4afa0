-- The charged gross equals what was delivered (the amounts of the charged deliveries), VAT plus
-- net make the gross, and no amount is negative.
SELECT coalesce(sum(c.gross), 0) = coalesce(sum(d.amount), 0) AND coalesce(sum(c.vat + c.net), 0) = coalesce(sum(c.gross), 0)
       AND count(*) FILTER (WHERE c.gross < 0 OR c.vat < 0 OR c.net < 0 OR c.driver_commission < 0) = 0 AS ok,
       coalesce(sum(d.amount), 0) AS delivered_amount, coalesce(sum(c.gross), 0) AS charged_gross,
       coalesce(sum(c.vat + c.net), 0) AS vat_plus_net,
       count(*) FILTER (WHERE c.gross < 0 OR c.vat < 0 OR c.net < 0 OR c.driver_commission < 0) AS negative_rows
FROM erp.delivery_charges c JOIN erp.deliveries d ON d.id = c.delivery_id
WHERE d.delivery_date = nightshift.business_date() AND d.status = 'delivered'
