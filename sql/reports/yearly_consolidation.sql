-- The year's consolidated sales per branch and size, for the year-end closing of the books.
SELECT b.code AS branch, b.name AS branch_name, p.sku AS product, p.name AS product_name,
       y.year, y.deliveries, y.cylinders, y.kilograms, y.revenue, round(y.revenue * 5 / 105, 0) AS vat
FROM erp.yearly_sales y
JOIN erp.branches b ON b.id = y.branch_id
JOIN erp.products p ON p.id = y.product_id
WHERE y.year = extract(year FROM :business_date::date)::int
ORDER BY b.code, p.sku
