-- The staging table for one chunk. {{staging}} is the runner's BATCH_TEMP_* name.
-- A temporary table: PostgreSQL drops it with the session even if the runner crashes;
-- ON COMMIT DELETE ROWS empties it after every chunk's commit. No index: the stage query's keys are
-- distinct by construction, and maintaining one cost 10% of the job (scripts/bench calc).
CREATE TEMP TABLE {{staging}} (
    delivery_id       bigint NOT NULL,
    gross             numeric(12,2) NOT NULL,
    vat               numeric(12,2) NOT NULL,
    net               numeric(12,2) NOT NULL,
    deposit_due       numeric(12,2) NOT NULL,
    driver_commission numeric(10,2) NOT NULL
) ON COMMIT DELETE ROWS
