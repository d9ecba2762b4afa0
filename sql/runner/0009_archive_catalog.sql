-- The archive catalog: one row per encrypted archive an archive job wrote. A chunk's rows are
-- deleted in the same transaction that inserts its catalog row, after the archive was written,
-- fsynced, moved to its final name and verified by decrypting it (rows counted, SHA-256 of every
-- table's data compared). So a row is either in its table or in exactly one catalogued archive.
--
-- The id is taken from the sequence before the archive is written and names its file; a file
-- with no catalog row is what a crash left before its commit (its rows are still in the table)
-- and is removed by the job's next attempt.
CREATE TABLE nightshift.archive_catalog (
    id              bigint      PRIMARY KEY,
    job             text        NOT NULL,
    job_run_id      bigint      REFERENCES nightshift.job_runs,
    business_date   date        NOT NULL,
    -- What the rows are: the table, its key column and the range of keys in this archive.
    source_table    text        NOT NULL,
    key_column      text        NOT NULL,
    first_key       text        NOT NULL,
    last_key        text        NOT NULL,
    -- Rows dated before this day (in the runner's time zone) were due.
    cutoff          date        NOT NULL,
    rows            bigint      NOT NULL,
    -- Per table (the source first, then its children): [{table, entry, columns, rows, bytes, sha256}].
    tables          jsonb       NOT NULL,
    path            text        NOT NULL UNIQUE,
    -- The file as written (the ciphertext) and the data it holds before compression.
    bytes           bigint      NOT NULL,
    sha256          text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    data_bytes      bigint      NOT NULL,
    encrypted_to    text[]      NOT NULL,
    archived_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The last restore, if any (every access is in nightshift.audit).
    restored_at     timestamptz,
    restored_by     text,
    restored_into   text
);
CREATE SEQUENCE nightshift.archive_catalog_id_seq OWNED BY nightshift.archive_catalog.id;
CREATE INDEX archive_catalog_by_table ON nightshift.archive_catalog (source_table, archived_at);

-- The share of bytes compression saved (50 means the archive is half the data's size).
CREATE FUNCTION nightshift.archive_saving_percent(data_bytes bigint, bytes bigint) RETURNS numeric
    LANGUAGE sql IMMUTABLE AS $$ SELECT round(100 - 100.0 * bytes / nullif(data_bytes, 0), 1) $$;

ALTER TABLE nightshift.audit DROP CONSTRAINT audit_outcome_check;
ALTER TABLE nightshift.audit ADD CONSTRAINT audit_outcome_check
    CHECK (outcome IN ('accepted', 'refused', 'approved', 'rejected', 'cancelled', 'expired', 'queued', 'finished',
                       'resolved', 'dismissed', 'retry_failed', 'listed', 'verified', 'restored', 'restore_failed'));
