-- Lucky Gas sample ERP: LPG cylinder delivery in Taiwan. Amounts are NT$ and include 5% VAT.
CREATE SCHEMA IF NOT EXISTS erp;

CREATE TABLE IF NOT EXISTS erp.branches (
    id          smallint PRIMARY KEY,
    code        text NOT NULL UNIQUE,
    name        text NOT NULL,
    city        text NOT NULL
);

-- Products are cylinder sizes; deposit is the refundable cylinder deposit.
CREATE TABLE IF NOT EXISTS erp.products (
    id          smallint PRIMARY KEY,
    sku         text NOT NULL UNIQUE,
    name        text NOT NULL,
    size_kg     int  NOT NULL CHECK (size_kg IN (4, 10, 16, 20, 50)),
    unit_price  numeric(10,2) NOT NULL,
    deposit     numeric(10,2) NOT NULL
);

CREATE TABLE IF NOT EXISTS erp.customers (
    id          int PRIMARY KEY,
    branch_id   smallint NOT NULL REFERENCES erp.branches,
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('household', 'restaurant', 'industrial')),
    phone       text NOT NULL,
    address     text NOT NULL,
    tax_id      text,
    created_on  date NOT NULL,
    order_rate  real NOT NULL  -- probability of an order on a given day (seed only)
);

CREATE TABLE IF NOT EXISTS erp.orders (
    id          bigint PRIMARY KEY,
    customer_id int NOT NULL REFERENCES erp.customers,
    branch_id   smallint NOT NULL REFERENCES erp.branches,
    product_id  smallint NOT NULL REFERENCES erp.products,
    quantity    int NOT NULL CHECK (quantity > 0),
    channel     text NOT NULL CHECK (channel IN ('phone', 'line', 'web', 'standing')),
    ordered_at  timestamptz NOT NULL,
    order_date  date NOT NULL
);

CREATE TABLE IF NOT EXISTS erp.deliveries (
    id            bigint PRIMARY KEY,
    order_id      bigint NOT NULL REFERENCES erp.orders,
    branch_id     smallint NOT NULL REFERENCES erp.branches,
    customer_id   int NOT NULL REFERENCES erp.customers,
    product_id    smallint NOT NULL REFERENCES erp.products,
    quantity      int NOT NULL,
    unit_price    numeric(10,2) NOT NULL,
    amount        numeric(12,2) NOT NULL,
    driver_id     int NOT NULL,
    delivered_at  timestamptz NOT NULL,
    delivery_date date NOT NULL,
    status        text NOT NULL CHECK (status IN ('delivered', 'failed'))
);
CREATE INDEX IF NOT EXISTS deliveries_by_date ON erp.deliveries (delivery_date, id);

CREATE TABLE IF NOT EXISTS erp.payments (
    id          bigint PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES erp.deliveries,
    customer_id int NOT NULL REFERENCES erp.customers,
    method      text NOT NULL CHECK (method IN ('cash', 'transfer', 'credit')),
    amount      numeric(12,2) NOT NULL,
    paid_at     timestamptz NOT NULL
);

-- Taiwan uniform invoices (統一發票): two letters and eight digits.
CREATE TABLE IF NOT EXISTS erp.invoices (
    id          bigint PRIMARY KEY,
    invoice_no  text NOT NULL UNIQUE CHECK (invoice_no ~ '^[A-Z]{2}[0-9]{8}$'),
    delivery_id bigint NOT NULL REFERENCES erp.deliveries,
    customer_id int NOT NULL REFERENCES erp.customers,
    issued_on   date NOT NULL,
    amount      numeric(12,2) NOT NULL,
    tax         numeric(12,2) NOT NULL
);

-- Full cylinders out to the customer, empties back in.
CREATE TABLE IF NOT EXISTS erp.cylinder_movements (
    id          bigint PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES erp.deliveries,
    customer_id int NOT NULL REFERENCES erp.customers,
    product_id  smallint NOT NULL REFERENCES erp.products,
    direction   text NOT NULL CHECK (direction IN ('out', 'in')),
    quantity    int NOT NULL CHECK (quantity >= 0),
    moved_at    timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS cylinder_movements_by_delivery ON erp.cylinder_movements (delivery_id);

-- Written by the night batch.
CREATE TABLE IF NOT EXISTS erp.daily_sales_summary (
    business_date date NOT NULL,
    branch_id     smallint NOT NULL REFERENCES erp.branches,
    product_id    smallint NOT NULL REFERENCES erp.products,
    deliveries    int NOT NULL,
    cylinders     int NOT NULL,
    kilograms     int NOT NULL,
    revenue       numeric(14,2) NOT NULL,
    PRIMARY KEY (business_date, branch_id, product_id)
);

CREATE TABLE IF NOT EXISTS erp.delivery_charges (
    delivery_id       bigint PRIMARY KEY REFERENCES erp.deliveries,
    business_date     date NOT NULL,
    gross             numeric(12,2) NOT NULL,
    vat               numeric(12,2) NOT NULL,
    net               numeric(12,2) NOT NULL,
    deposit_due       numeric(12,2) NOT NULL,
    driver_commission numeric(10,2) NOT NULL,
    computed_at       timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS delivery_charges_by_date ON erp.delivery_charges (business_date);

-- Deterministic pseudo-random number in [0, 1) from (seed, stream, n): the same inputs give the
-- same value whatever the plan or the order of evaluation, so seeding is reproducible.
CREATE OR REPLACE FUNCTION erp.prand(seed bigint, stream int, n bigint) RETURNS float8
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (hashint8extended(n, seed * 1009 + stream) & 9007199254740991)::float8 / 9007199254740992.0 $$;
