-- The month's revenue per branch and size, for the accounting office's ledger import
-- (fixed-width, Big5, with a control total) and the managers (HTML).
SELECT b.code AS branch, b.name AS branch_name, p.sku AS product, p.name AS product_name,
       to_char(m.month, 'YYYYMM') AS period, m.deliveries, m.cylinders, m.kilograms, m.revenue,
       round(m.revenue * 5 / 105, 0) AS vat
FROM erp.monthly_sales m
JOIN erp.branches b ON b.id = m.branch_id
JOIN erp.products p ON p.id = m.product_id
WHERE m.month = date_trunc('month', :business_date::date)::date
ORDER BY b.code, p.sku
