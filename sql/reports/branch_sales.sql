-- Sales per branch and cylinder size for the business date, for the branch managers and the
-- accounting office. Reads the daily_sales_summary aggregation (it runs first).
SELECT b.code      AS branch,
       b.name      AS branch_name,
       p.sku       AS product,
       p.name      AS product_name,
       s.deliveries,
       s.cylinders,
       s.kilograms,
       s.revenue
FROM erp.daily_sales_summary s
JOIN erp.branches b ON b.id = s.branch_id
JOIN erp.products p ON p.id = s.product_id
WHERE s.business_date = :business_date::date
ORDER BY b.code, p.sku
