-- Fills the sample ERP deterministically and set-based. Parameters (set by `nightshift seed`
-- with bound values): nightshift.seed, nightshift.seed_customers, nightshift.seed_days,
-- nightshift.seed_until (the last business date). Same parameters, same data.
-- About customers × (days + 7) / 3.2 deliveries: the days up to `until`, and a week from 800 days
-- before it (deliveries past the 2-year retention, for the archive job). Also 120 days of the
-- ERP's application log and 14 days of data-import staging rows.

-- Bulk load: foreign keys and secondary indexes are dropped first and re-created at the end,
-- where each is validated or built in one set-based pass instead of once per inserted row.
CREATE TEMP TABLE seed_ddl ON COMMIT DROP AS
SELECT 1 AS step, format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname) AS drop_sql,
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid)) AS create_sql
FROM pg_constraint WHERE contype = 'f' AND connamespace = 'erp'::regnamespace
UNION ALL
SELECT 2, format('DROP INDEX %I.%I', schemaname, indexname), indexdef
FROM pg_indexes i
WHERE schemaname = 'erp'
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname AND c.connamespace = 'erp'::regnamespace);

DO $$ DECLARE r record; BEGIN
    FOR r IN SELECT drop_sql FROM seed_ddl ORDER BY step LOOP EXECUTE r.drop_sql; END LOOP;
END $$;

TRUNCATE erp.system_log, erp.import_staging, erp.cylinder_opening_balance, erp.hourly_deliveries, erp.cylinder_inventory, erp.weekly_trends, erp.monthly_sales, erp.yearly_sales,
         erp.receivables_aging, erp.monthly_close,
         erp.customer_consumption, erp.delivery_charges, erp.daily_sales_summary, erp.cylinder_movements, erp.invoices,
         erp.payments, erp.deliveries, erp.orders, erp.customers, erp.products, erp.branches;

INSERT INTO erp.branches (id, code, name, city) VALUES
    (1, 'TPE', '台北營業所', '台北市'),
    (2, 'NTP', '新北營業所', '新北市'),
    (3, 'TYN', '桃園營業所', '桃園市'),
    (4, 'TXG', '台中營業所', '台中市'),
    (5, 'TNN', '台南營業所', '台南市'),
    (6, 'KHH', '高雄營業所', '高雄市');

INSERT INTO erp.products (id, sku, name, size_kg, unit_price, deposit) VALUES
    (1, 'LPG-04', '4公斤家用桶裝瓦斯', 4, 260, 700),
    (2, 'LPG-10', '10公斤家用桶裝瓦斯', 10, 480, 1100),
    (3, 'LPG-16', '16公斤桶裝瓦斯', 16, 720, 1400),
    (4, 'LPG-20', '20公斤營業用桶裝瓦斯', 20, 880, 1600),
    (5, 'LPG-50', '50公斤工業用桶裝瓦斯', 50, 2150, 2800);

CREATE TEMP TABLE seed_params ON COMMIT DROP AS
SELECT current_setting('nightshift.seed')::bigint            AS seed,
       current_setting('nightshift.seed_customers')::int     AS customers,
       current_setting('nightshift.seed_days')::int          AS days,
       current_setting('nightshift.seed_until')::date        AS until;

INSERT INTO erp.customers (id, branch_id, name, kind, phone, address, tax_id, created_on, order_rate)
SELECT n,
       1 + floor(erp.prand(p.seed, 1, n) * 6)::int,
       (ARRAY['陳','林','黃','張','李','王','吳','劉','蔡','楊'])[1 + floor(erp.prand(p.seed, 2, n) * 10)::int]
           || (ARRAY['家','記','氏','府','先生','小姐'])[1 + floor(erp.prand(p.seed, 3, n) * 6)::int]
           || ' #' || n,
       k.kind,
       '09' || lpad(floor(erp.prand(p.seed, 4, n) * 100000000)::bigint::text, 8, '0'),
       (ARRAY['中正路','民生路','中山路','復興路','建國路','光復路'])[1 + floor(erp.prand(p.seed, 5, n) * 6)::int]
           || (1 + floor(erp.prand(p.seed, 6, n) * 400)::int) || '號',
       CASE WHEN k.kind <> 'household' THEN lpad(floor(erp.prand(p.seed, 7, n) * 100000000)::bigint::text, 8, '0') END,
       p.until - p.days - floor(erp.prand(p.seed, 8, n) * 2000)::int,
       CASE k.kind WHEN 'household' THEN 0.12 + erp.prand(p.seed, 9, n) * 0.2
                   WHEN 'restaurant' THEN 0.45 + erp.prand(p.seed, 9, n) * 0.4
                   ELSE 0.6 + erp.prand(p.seed, 9, n) * 0.35 END
FROM seed_params p, generate_series(1, p.customers) AS n,
     LATERAL (SELECT CASE WHEN erp.prand(p.seed, 10, n) < 0.82 THEN 'household'
                          WHEN erp.prand(p.seed, 10, n) < 0.97 THEN 'restaurant'
                          ELSE 'industrial' END AS kind) k;

-- One order per (customer, day) when the customer's daily draw falls under their order rate.
-- Ids follow (day, customer), so they are the same on every run. Day i is until - (days - 1) + i:
-- 0 … days - 1 are the recent days, days - 801 … days - 795 the week 800 days back. The old week is
-- numbered after the recent days, so the recent days' rows (ids, and every draw made from an id) are
-- the same with or without it.
CREATE TEMP TABLE seed_orders ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY d.i < 0, d.i, c.id) AS id,
       c.id AS customer_id, c.branch_id, c.kind,
       p.until - (p.days - 1) + d.i AS day,
       (c.id::bigint << 16) + d.i AS draw
FROM seed_params p
CROSS JOIN LATERAL (SELECT generate_series(0, p.days - 1) UNION ALL SELECT generate_series(p.days - 801, p.days - 795)) AS d(i)
JOIN erp.customers c ON erp.prand(p.seed, 11, (c.id::bigint << 16) + d.i) < c.order_rate;

INSERT INTO erp.orders (id, customer_id, branch_id, product_id, quantity, channel, ordered_at, order_date)
SELECT o.id, o.customer_id, o.branch_id,
       CASE o.kind
           WHEN 'household' THEN (ARRAY[1, 2, 2, 3, 3, 4])[1 + floor(erp.prand(p.seed, 12, o.draw) * 6)::int]
           WHEN 'restaurant' THEN (ARRAY[3, 4, 4, 4, 5])[1 + floor(erp.prand(p.seed, 12, o.draw) * 5)::int]
           ELSE (ARRAY[4, 5, 5])[1 + floor(erp.prand(p.seed, 12, o.draw) * 3)::int] END,
       CASE o.kind WHEN 'household' THEN 1
                   WHEN 'restaurant' THEN 1 + floor(erp.prand(p.seed, 13, o.draw) * 3)::int
                   ELSE 2 + floor(erp.prand(p.seed, 13, o.draw) * 5)::int END,
       (ARRAY['phone', 'phone', 'line', 'web', 'standing'])[1 + floor(erp.prand(p.seed, 14, o.draw) * 5)::int],
       (o.day + time '07:00' + make_interval(mins => floor(erp.prand(p.seed, 15, o.draw) * 600)::int))
           AT TIME ZONE 'Asia/Taipei',
       o.day
FROM seed_orders o, seed_params p;

INSERT INTO erp.deliveries (id, order_id, branch_id, customer_id, product_id, quantity, unit_price, amount,
                            driver_id, delivered_at, delivery_date, status)
SELECT o.id, o.id, o.branch_id, o.customer_id, o.product_id, o.quantity, pr.unit_price,
       pr.unit_price * o.quantity,
       o.branch_id * 100 + 1 + floor(erp.prand(p.seed, 16, o.id) * 12)::int,
       least(o.ordered_at + make_interval(mins => 20 + floor(erp.prand(p.seed, 17, o.id) * 180)::int),
             (o.order_date + time '23:30') AT TIME ZONE 'Asia/Taipei'),
       o.order_date,
       CASE WHEN erp.prand(p.seed, 18, o.id) < 0.02 THEN 'failed' ELSE 'delivered' END
FROM erp.orders o
JOIN erp.products pr ON pr.id = o.product_id
CROSS JOIN seed_params p;

INSERT INTO erp.payments (id, delivery_id, customer_id, method, amount, paid_at)
SELECT d.id, d.id, d.customer_id, m.method, d.amount,
       CASE m.method WHEN 'cash' THEN d.delivered_at
                     ELSE d.delivered_at + make_interval(days => 1 + floor(erp.prand(p.seed, 20, d.id) * 20)::int) END
FROM erp.deliveries d
CROSS JOIN seed_params p
CROSS JOIN LATERAL (SELECT CASE WHEN erp.prand(p.seed, 19, d.id) < 0.6 THEN 'cash'
                                WHEN erp.prand(p.seed, 19, d.id) < 0.9 THEN 'transfer'
                                ELSE 'credit' END AS method) m
-- A third of the sales on credit are not paid yet: the receivables the month-end close ages.
WHERE d.status = 'delivered' AND NOT (m.method = 'credit' AND erp.prand(p.seed, 22, d.id) < 0.33);

INSERT INTO erp.invoices (id, invoice_no, delivery_id, customer_id, issued_on, amount, tax)
SELECT d.id,
       chr(65 + (d.delivery_date - date '2000-01-01') / 61 % 26) || chr(65 + d.branch_id) || lpad(d.id::text, 8, '0'),
       d.id, d.customer_id, d.delivery_date, d.amount, round(d.amount * 5 / 105, 0)
FROM erp.deliveries d
WHERE d.status = 'delivered';

INSERT INTO erp.cylinder_movements (id, delivery_id, customer_id, product_id, direction, quantity, moved_at)
SELECT d.id * 2 + (dir.direction = 'in')::int, d.id, d.customer_id, d.product_id, dir.direction,
       CASE dir.direction WHEN 'out' THEN d.quantity
                          ELSE greatest(0, d.quantity - (erp.prand(p.seed, 21, d.id) < 0.1)::int) END,
       d.delivered_at
FROM erp.deliveries d
CROSS JOIN seed_params p
CROSS JOIN (VALUES ('out'), ('in')) AS dir(direction)
WHERE d.status = 'delivered';

-- The ERP's application log: 40 lines a day for 120 days (the archive keeps 90).
INSERT INTO erp.system_log (id, logged_at, level, source, message)
SELECT n, (p.until + 1)::timestamp AT TIME ZONE 'Asia/Taipei' - make_interval(secs => n * 2160 + floor(erp.prand(p.seed, 30, n) * 2000)::int),
       (ARRAY['info', 'info', 'info', 'info', 'debug', 'warning', 'error'])[1 + floor(erp.prand(p.seed, 31, n) * 7)::int],
       (ARRAY['order-entry', 'dispatch', 'billing', 'driver-app', 'sync'])[1 + floor(erp.prand(p.seed, 32, n) * 5)::int],
       (ARRAY['order saved for customer #', 'route assigned to driver ', 'invoice printed for delivery ',
              'driver app synced, pending records: ', 'payment posted for customer #'])[1 + floor(erp.prand(p.seed, 33, n) * 5)::int]
           || floor(erp.prand(p.seed, 34, n) * 5000)::int
FROM seed_params p, generate_series(1, 120 * 40) AS n;

-- The data-import screen's staging rows: 25 a day for 14 days (the archive keeps 7).
INSERT INTO erp.import_staging (id, loaded_at, source, line_no, raw_line, status)
SELECT n, (p.until + 1)::timestamp AT TIME ZONE 'Asia/Taipei' - make_interval(secs => n * 3456),
       'price-list-' || to_char(p.until - n / 25, 'YYYYMMDD') || '.csv', 1 + n % 25,
       'LPG-' || lpad((1 + n % 5)::text, 2, '0') || ',' || (250 + n % 7 * 10) || ',' || to_char(p.until - n / 25, 'YYYY-MM-DD'),
       (ARRAY['applied', 'applied', 'applied', 'rejected', 'loaded'])[1 + n % 5]
FROM seed_params p, generate_series(1, 14 * 25) AS n;

DO $$ DECLARE r record; BEGIN
    FOR r IN SELECT create_sql FROM seed_ddl ORDER BY step DESC LOOP EXECUTE r.create_sql; END LOOP;
END $$;

ANALYZE erp.customers, erp.orders, erp.deliveries, erp.payments, erp.invoices, erp.cylinder_movements,
        erp.system_log, erp.import_staging;

SELECT (SELECT count(*) FROM erp.customers) AS customers,
       (SELECT count(*) FROM erp.orders) AS orders,
       (SELECT count(*) FROM erp.deliveries) AS deliveries,
       (SELECT count(*) FROM erp.payments) AS payments,
       (SELECT count(*) FROM erp.invoices) AS invoices,
       (SELECT count(*) FROM erp.cylinder_movements) AS cylinder_movements;
