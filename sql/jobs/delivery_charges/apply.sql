-- Writes the staged chunk. Upsert: re-running a day replaces its figures.
INSERT INTO erp.delivery_charges (delivery_id, business_date, gross, vat, net, deposit_due, driver_commission, computed_at)
SELECT delivery_id, nightshift.business_date(), gross, vat, net, deposit_due, driver_commission, now()
FROM {{staging}}
ON CONFLICT (delivery_id) DO UPDATE
SET business_date = EXCLUDED.business_date, gross = EXCLUDED.gross, vat = EXCLUDED.vat, net = EXCLUDED.net,
    deposit_due = EXCLUDED.deposit_due, driver_commission = EXCLUDED.driver_commission,
    computed_at = EXCLUDED.computed_at
