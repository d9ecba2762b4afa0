-- Written by the night batch: each customer's gas use over the 30 days up to the business date,
-- and when the next order is expected (to plan deliveries before the customer runs out).
CREATE TABLE IF NOT EXISTS erp.customer_consumption (
    customer_id     int PRIMARY KEY REFERENCES erp.customers,
    as_of           date NOT NULL,
    deliveries_30d  int NOT NULL,
    kilograms_30d   int NOT NULL,
    last_delivery   date NOT NULL,
    next_expected   date
);
