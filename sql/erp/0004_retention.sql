-- What the archive jobs keep lean: the ERP's application log (kept 90 days), the data-import
-- screen's staging rows (kept 7 days), and deliveries with their payments, invoices, cylinder
-- movements and charges (kept 2 years, then moved to encrypted archives).
CREATE TABLE IF NOT EXISTS erp.system_log (
    id          bigint      PRIMARY KEY,
    logged_at   timestamptz NOT NULL,
    level       text        NOT NULL CHECK (level IN ('debug', 'info', 'warning', 'error')),
    source      text        NOT NULL,
    message     text        NOT NULL
);
CREATE INDEX IF NOT EXISTS system_log_logged_at ON erp.system_log (logged_at);

CREATE TABLE IF NOT EXISTS erp.import_staging (
    id          bigint      PRIMARY KEY,
    loaded_at   timestamptz NOT NULL,
    source      text        NOT NULL,
    line_no     int         NOT NULL,
    raw_line    text        NOT NULL,
    status      text        NOT NULL CHECK (status IN ('loaded', 'applied', 'rejected'))
);
CREATE INDEX IF NOT EXISTS import_staging_loaded_at ON erp.import_staging (loaded_at);

-- Cylinders at customers carried forward from cylinder movements that were archived: a full
-- recount is this balance plus every movement still in erp.cylinder_movements.
CREATE TABLE IF NOT EXISTS erp.cylinder_opening_balance (
    branch_id       smallint NOT NULL REFERENCES erp.branches,
    product_id      smallint NOT NULL REFERENCES erp.products,
    at_customers    bigint   NOT NULL,
    -- Movements of deliveries before this date are in the balance (archived).
    through_date    date     NOT NULL,
    PRIMARY KEY (branch_id, product_id)
);

-- Archiving deletes invoices by delivery (payments and movements have their index already).
CREATE INDEX IF NOT EXISTS invoices_by_delivery ON erp.invoices (delivery_id);
