-- Is the month of the business date closed? Every delivered delivery of the month has its
-- uniform invoice (統一發票). One boolean; the month-end close event releases the monthly batch
-- too, whichever comes first.
SELECT NOT EXISTS (
    SELECT 1 FROM erp.deliveries d
    WHERE d.delivery_date >= date_trunc('month', nightshift.business_date())::date
      AND d.delivery_date < (date_trunc('month', nightshift.business_date()) + interval '1 month')::date
      AND d.status = 'delivered'
      AND NOT EXISTS (SELECT 1 FROM erp.invoices i WHERE i.delivery_id = d.id)
) AS closed
