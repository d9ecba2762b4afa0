-- Bad records go to a review queue instead of failing their job.
--
-- A data error inside a calculation's chunk (overflow, constraint, division by zero, bad value) is
-- isolated by splitting the chunk until the one record that fails is found; that record goes here
-- with its key, the record as JSON, the SQLSTATE and the message, and the rest commits. The job
-- ends `succeeded_with_rejects` (too many rejects, more than its max_rejects, fail it).
-- `nightshift review list|retry|dismiss` works the queue; each retry and dismissal is audited.

CREATE TABLE nightshift.review_queue (
    id              bigserial   PRIMARY KEY,
    job             text        NOT NULL,
    job_run_id      bigint      REFERENCES nightshift.job_runs,
    business_date   date        NOT NULL,
    record_key      bigint      NOT NULL,
    record          jsonb,
    sqlstate        text,
    message         text        NOT NULL,
    rejected_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- open: to look at; resolved: a retry applied it; dismissed: set aside for good.
    state           text        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved', 'dismissed')),
    decided_by      text,
    decided_at      timestamptz,
    note            text,
    UNIQUE (job, business_date, record_key)
);
CREATE INDEX review_queue_open ON nightshift.review_queue (job, business_date) WHERE state = 'open';

ALTER TABLE nightshift.job_runs DROP CONSTRAINT job_runs_state_check;
ALTER TABLE nightshift.job_runs ADD CONSTRAINT job_runs_state_check
    CHECK (state IN ('pending', 'running', 'paused', 'retrying', 'succeeded', 'succeeded_with_rejects', 'failed', 'skipped', 'timed_out'));
ALTER TABLE nightshift.job_runs ADD COLUMN rejected_rows int NOT NULL DEFAULT 0;
ALTER TABLE nightshift.checkpoints ADD COLUMN rejects int NOT NULL DEFAULT 0;

ALTER TABLE nightshift.audit DROP CONSTRAINT audit_outcome_check;
ALTER TABLE nightshift.audit ADD CONSTRAINT audit_outcome_check
    CHECK (outcome IN ('accepted', 'refused', 'approved', 'rejected', 'cancelled', 'expired', 'queued', 'finished',
                       'resolved', 'dismissed', 'retry_failed'));
