-- Only settled deliveries leave the database: failed ones, and delivered ones that were paid.
-- An unpaid invoice stays a receivable, whatever its age.
t.status = 'failed' OR EXISTS (SELECT 1 FROM erp.payments p WHERE p.delivery_id = t.id)
