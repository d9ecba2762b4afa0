-- The month's uniform invoices (統一發票) for the business tax declaration (401), one row per
-- invoice with the buyer's tax ID: signed for the tax agent and encrypted (it names customers).
-- Read in key order one part at a time (export.key: invoice_id).
SELECT i.id                                 AS invoice_id,
       i.invoice_no,
       to_char(i.issued_on, 'YYYYMMDD')     AS issued_on,
       coalesce(c.tax_id, '')               AS buyer_tax_id,
       i.amount - i.tax                     AS net_amount,
       i.tax,
       i.amount
FROM erp.invoices i
JOIN erp.customers c ON c.id = i.customer_id
WHERE i.issued_on BETWEEN date_trunc('month', nightshift.business_date())::date AND nightshift.business_date()
  AND i.id > nightshift.after_key()
ORDER BY i.id
LIMIT nightshift.chunk_size()
