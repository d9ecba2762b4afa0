-- Written by the night batches: hourly, daily, weekly, monthly and yearly figures, the cylinder
-- inventory, receivables aging and the month-end close. Every table is keyed by its period, and
-- every job that writes one replaces exactly its period's rows in one transaction (idempotent).

-- Deliveries per branch and hour of the business day (Asia/Taipei), for dispatch planning.
CREATE TABLE IF NOT EXISTS erp.hourly_deliveries (
    business_date date     NOT NULL,
    hour          smallint NOT NULL CHECK (hour BETWEEN 0 AND 23),
    branch_id     smallint NOT NULL REFERENCES erp.branches,
    deliveries    int      NOT NULL,
    kilograms     int      NOT NULL,
    revenue       numeric(14,2) NOT NULL,
    PRIMARY KEY (business_date, hour, branch_id)
);

-- Cylinders at customers per branch and size at the end of each business day: the previous
-- day's balance plus the day's movements (incremental), rebuilt from all movements when there is
-- no previous day.
CREATE TABLE IF NOT EXISTS erp.cylinder_inventory (
    business_date   date     NOT NULL,
    branch_id       smallint NOT NULL REFERENCES erp.branches,
    product_id      smallint NOT NULL REFERENCES erp.products,
    moved_out       int      NOT NULL,
    moved_in        int      NOT NULL,
    at_customers    int      NOT NULL,
    deposits_held   numeric(14,2) NOT NULL,
    PRIMARY KEY (business_date, branch_id, product_id)
);

-- Week (Monday to Sunday) figures per branch with the change against the week before.
CREATE TABLE IF NOT EXISTS erp.weekly_trends (
    week_start      date     NOT NULL,
    branch_id       smallint NOT NULL REFERENCES erp.branches,
    deliveries      int      NOT NULL,
    kilograms       int      NOT NULL,
    revenue         numeric(14,2) NOT NULL,
    revenue_prev    numeric(14,2),
    change_percent  numeric(7,2),
    PRIMARY KEY (week_start, branch_id)
);

-- Month and year figures per branch and size, summed from the daily summary (incremental: the
-- daily aggregation already did the heavy work).
CREATE TABLE IF NOT EXISTS erp.monthly_sales (
    month       date     NOT NULL CHECK (extract(day FROM month) = 1),
    branch_id   smallint NOT NULL REFERENCES erp.branches,
    product_id  smallint NOT NULL REFERENCES erp.products,
    deliveries  int      NOT NULL,
    cylinders   int      NOT NULL,
    kilograms   bigint   NOT NULL,
    revenue     numeric(16,2) NOT NULL,
    PRIMARY KEY (month, branch_id, product_id)
);

CREATE TABLE IF NOT EXISTS erp.yearly_sales (
    year        int      NOT NULL,
    branch_id   smallint NOT NULL REFERENCES erp.branches,
    product_id  smallint NOT NULL REFERENCES erp.products,
    deliveries  int      NOT NULL,
    cylinders   int      NOT NULL,
    kilograms   bigint   NOT NULL,
    revenue     numeric(16,2) NOT NULL,
    PRIMARY KEY (year, branch_id, product_id)
);

-- What each customer owes at the end of a month, by the age of the unpaid invoices.
CREATE TABLE IF NOT EXISTS erp.receivables_aging (
    as_of        date  NOT NULL,
    customer_id  int   NOT NULL REFERENCES erp.customers,
    current_due  numeric(14,2) NOT NULL,   -- 0-30 days
    days_31_60   numeric(14,2) NOT NULL,
    days_61_90   numeric(14,2) NOT NULL,
    over_90      numeric(14,2) NOT NULL,
    total        numeric(14,2) NOT NULL,
    PRIMARY KEY (as_of, customer_id)
);

-- The month-end close: the month's revenue, VAT, invoices and payments, which must reconcile.
CREATE TABLE IF NOT EXISTS erp.monthly_close (
    month         date PRIMARY KEY CHECK (extract(day FROM month) = 1),
    deliveries    int  NOT NULL,
    revenue       numeric(16,2) NOT NULL,
    vat           numeric(16,2) NOT NULL,
    invoiced      numeric(16,2) NOT NULL,
    invoice_tax   numeric(16,2) NOT NULL,
    collected     numeric(16,2) NOT NULL,
    receivables   numeric(16,2) NOT NULL,
    closed_at     timestamptz NOT NULL
);

-- Stops a closing step whose figures do not reconcile (SQLSTATE 23514, a permanent failure that
-- names the figures), so nothing is reported or filed from a month that does not add up.
CREATE OR REPLACE FUNCTION erp.close_check(ok boolean, message text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF NOT ok THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = message,
            HINT = 'find the deliveries without an invoice (or the reverse) for the month, correct them, and run the monthly batch again';
    END IF;
    RETURN true;
END $$;

-- What the month-end steps look up: invoices by date (in key order), payments by delivery and time.
CREATE INDEX IF NOT EXISTS invoices_by_date ON erp.invoices (issued_on, id);
CREATE INDEX IF NOT EXISTS payments_by_delivery ON erp.payments (delivery_id);
CREATE INDEX IF NOT EXISTS payments_by_time ON erp.payments (paid_at);
